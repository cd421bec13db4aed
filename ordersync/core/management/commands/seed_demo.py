import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction

from ordersync.core.permissions import ADMINS_GROUP, MARKETERS_GROUP

DEMO_USERS = [
    ("admin", ADMINS_GROUP, True),
    ("marketer", MARKETERS_GROUP, False),
]


class Command(BaseCommand):
    help = "Create the demo admin and marketer; print their passwords once."

    def add_arguments(self, parser):
        parser.add_argument(
            "--reset-passwords",
            action="store_true",
            help="Give the demo users new passwords and print them.",
        )

    @transaction.atomic
    def handle(self, *args, reset_passwords: bool = False, **options):
        User = get_user_model()
        for username, group_name, is_admin in DEMO_USERS:
            user, created = User.objects.get_or_create(
                username=username,
                defaults={"is_staff": is_admin, "is_superuser": is_admin},
            )
            user.groups.add(Group.objects.get(name=group_name))
            if created or reset_passwords:
                password = secrets.token_urlsafe(12)
                user.set_password(password)
                user.save()
                self.stdout.write(
                    self.style.SUCCESS(f"Demo user {username!r}, password: {password}")
                )
            else:
                self.stdout.write(
                    f"Demo user {username!r} exists (new password: "
                    "python manage.py seed_demo --reset-passwords)."
                )
