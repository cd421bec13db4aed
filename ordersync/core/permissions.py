from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

ADMINS_GROUP = "Admins"
MARKETERS_GROUP = "Marketers"


def user_is_admin(user: AbstractBaseUser | AnonymousUser) -> bool:
    """Return whether the user manages accounts, counters and access."""
    if not user.is_authenticated or not user.is_active:
        return False
    # Cached on the user object, like Django's permission cache: a page asks
    # several times, and the user object lives for one request.
    cached = getattr(user, "_is_ordersync_admin", None)
    if cached is None:
        cached = user.is_superuser or user.groups.filter(name=ADMINS_GROUP).exists()
        user._is_ordersync_admin = cached
    return cached
