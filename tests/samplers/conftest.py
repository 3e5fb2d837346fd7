import pytest

pytest.register_assert_rewrite("hyperdial.testing.samplers")
