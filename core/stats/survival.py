"""Placeholder: being written; see core/stats/__init__.py for the API."""
class CoxResult:  # placeholder
    pass
class KaplanMeierResult:  # placeholder
    pass
def cox(*args, **kwargs):  # placeholder
    raise NotImplementedError
def kaplan_meier(*args, **kwargs):  # placeholder
    raise NotImplementedError
