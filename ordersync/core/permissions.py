from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

ADMINS_GROUP = "Admins"
MARKETERS_GROUP = "Marketers"


def user_is_admin(user: AbstractBaseUser | AnonymousUser) -> bool:
    """Return whether the user manages accounts, counters and access."""
    if not user.is_authenticated or not user.is_active:
        return False
    return user.is_superuser or user.groups.filter(name=ADMINS_GROUP).exists()
