"""kojihub.convert_value: cast a call argument or raise ParameterError (1019)."""
import koji


def convert_value(value, cast=None, message=None, exc_type=koji.ParameterError,
                  none_allowed=False, check_only=False):
    if value is None:
        if not none_allowed:
            raise exc_type(message or f"Invalid type, expected type {cast}")
        return value
    if check_only:
        if not isinstance(value, cast):
            raise exc_type(message or f"Invalid type for value '{value}': {type(value)}, "
                           f"expected type {cast}")
    else:
        try:
            value = cast(value)
        except (ValueError, TypeError):
            raise exc_type(message or f"Invalid type for value '{value}': {type(value)}, "
                           f"expected type {cast}")
    return value
