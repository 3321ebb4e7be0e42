from django_filters import rest_framework as filters


class IdFilter(filters.NumberFilter):
    """Filter on a foreign key's id without loading the related row.

    django-filter's default ModelChoiceFilter validates each id with a query and deep-copies
    its queryset for every request; for list filters an unknown id simply matches nothing.
    """

    def __init__(self, field_name: str, **kwargs: object) -> None:
        super().__init__(field_name=f"{field_name}_id", min_value=1, **kwargs)
