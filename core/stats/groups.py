"""Placeholder: being written; see core/stats/__init__.py for the API."""
class CompareResult:  # placeholder
    pass
class ContingencyResult:  # placeholder
    pass
class CorrelationResult:  # placeholder
    pass
def compare_groups(*args, **kwargs):  # placeholder
    raise NotImplementedError
def contingency(*args, **kwargs):  # placeholder
    raise NotImplementedError
def correlate(*args, **kwargs):  # placeholder
    raise NotImplementedError
