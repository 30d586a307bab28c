import pytest

# conftest.py imports these before pytest would rewrite their asserts; registered here, they
# are rewritten as a test's are, so a failing assert in a helper shows the values it compared.
pytest.register_assert_rewrite("statusdash.tests.support", "statusdash.tests.skips")
