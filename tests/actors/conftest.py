from tests.threads.support import domain, eager, threads_current, user_factory  # noqa: F401
