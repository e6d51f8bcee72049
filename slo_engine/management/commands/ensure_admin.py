"""Creates the local admin user for the quick start and prints its credentials.

The password comes from ADMIN_PASSWORD, or is generated once and kept in
`.run/admin-password` (git-ignored) so every `make run` prints the same one.
"""

import os
import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create (or keep) the admin superuser and print its credentials."

    def add_arguments(self, parser):
        parser.add_argument("--username", default=os.environ.get("ADMIN_USERNAME", "admin"))

    def handle(self, *args, username: str, **options):
        password_file = Path(settings.BASE_DIR) / ".run" / "admin-password"
        password = os.environ.get("ADMIN_PASSWORD")
        if not password:
            if password_file.exists():
                password = password_file.read_text().strip()
            else:
                password = secrets.token_urlsafe(12)
                password_file.parent.mkdir(exist_ok=True)
                password_file.write_text(password + "\n")
                password_file.chmod(0o600)
        user_model = get_user_model()
        user, created = user_model.objects.get_or_create(
            username=username, defaults={"is_staff": True, "is_superuser": True, "email": ""}
        )
        if created or not user.check_password(password):
            user.is_staff = user.is_superuser = True
            user.set_password(password)
            user.save()
        self.stdout.write(self.style.SUCCESS(f"Admin user: {username}  password: {password}"))
