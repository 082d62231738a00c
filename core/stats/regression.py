"""Placeholder: being written; see core/stats/__init__.py for the API."""
class LogisticResult:  # placeholder
    pass
def logistic(*args, **kwargs):  # placeholder
    raise NotImplementedError
