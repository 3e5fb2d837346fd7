"""Tests of the pruners."""
