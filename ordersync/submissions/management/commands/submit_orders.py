"""Send an order file to Metrika without the browser, for scheduled exports.

The file goes through the wizard's own services (read, map, check every row,
confirm) and the same submission pipeline; a Celery worker must be running.
"""

from __future__ import annotations

import time
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import TemporaryUploadedFile
from django.core.management.base import BaseCommand, CommandError
from django.utils import translation
from django.utils.translation import gettext as _

from ordersync import orderfile
from ordersync.counters.models import SavedMapping
from ordersync.counters.selectors import counter_list_for_upload
from ordersync.submissions.models import Submission
from ordersync.uploads import services as uploads
from ordersync.uploads.errors import UploadError
from ordersync.uploads.models import Upload

EXIT_NOT_ACCEPTED = 2


class Command(BaseCommand):
    help = "Check an order file and send its valid rows to a Metrika counter."

    def add_arguments(self, parser):
        parser.add_argument("file", help="CSV or Excel export of the CRM")
        parser.add_argument(
            "--counter", required=True, type=int, help="Metrika counter id"
        )
        parser.add_argument("--user", required=True, help="who sends (user name)")
        parser.add_argument("--mapping", help="name of a saved column mapping")
        parser.add_argument(
            "--merge-mode", choices=["SAVE", "UPDATE", "APPEND"], default=None
        )
        parser.add_argument(
            "--wait", action="store_true", help="wait until Metrika answers"
        )
        parser.add_argument(
            "--timeout", type=float, default=3600, help="seconds to wait at most"
        )

    def handle(self, *args, **options):
        translation.activate(settings.LANGUAGE_CODE)
        self.timeout = options["timeout"]
        user = get_user_model().objects.filter(username=options["user"]).first()
        if user is None or not user.is_active:
            message = _("No active user %(name)s.") % {"name": options["user"]}
            raise CommandError(message)
        counter = (
            counter_list_for_upload(user)
            .filter(metrika_id=options["counter"])
            .order_by("pk")
            .first()
        )
        if counter is None:
            raise CommandError(
                _("%(user)s may not upload to counter %(id)s.")
                % {"user": user.get_username(), "id": options["counter"]}
            )
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(_("No file %(path)s.") % {"path": path})
        try:
            upload = self._prepare(user, counter, path, options)
        except UploadError as exc:
            raise CommandError(str(exc)) from None
        submission = upload.submissions.order_by("-created_at").first()
        self.stdout.write(
            _("Queued %(rows)s valid rows (%(invalid)s rows with errors): %(url)s")
            % {
                "rows": upload.rows_valid,
                "invalid": upload.rows_invalid,
                "url": settings.ORDERSYNC_SITE_URL.rstrip("/")
                + f"/history/{upload.public_id}/",
            }
        )
        if not options["wait"]:
            return
        submission = self._wait_submission(submission)
        self.stdout.write(
            _("%(status)s: %(rows)s rows taken by Metrika. %(message)s")
            % {
                "status": submission.get_status_display(),
                "rows": submission.elements_count or 0,
                "message": submission.error_message,
            }
        )
        if submission.status != Submission.Status.ACCEPTED:
            raise SystemExit(EXIT_NOT_ACCEPTED)

    def _prepare(self, user, counter, path: Path, options) -> Upload:
        language = translation.get_language()
        with path.open("rb") as handle:
            file = TemporaryUploadedFile(path.name, "application/octet-stream", 0, None)
            size = 0
            while chunk := handle.read(1024 * 1024):
                file.write(chunk)
                size += len(chunk)
            file.size = size
            file.seek(0)
            upload = uploads.upload_create(
                user=user, counter=counter, file=file, language=language
            )
            file.close()
        upload = self._wait_job(upload)
        uploads.upload_accept_source(upload=upload)
        if options["mapping"]:
            saved = SavedMapping.objects.filter(
                counter=counter, name=options["mapping"]
            ).first()
            if saved is None:
                raise CommandError(
                    _("Counter %(id)s has no saved mapping %(name)s.")
                    % {"id": counter.metrika_id, "name": options["mapping"]}
                )
            uploads.upload_apply_mapping(
                upload=upload, data=saved.mapping, origin="saved"
            )
            upload.refresh_from_db()
        mapping = orderfile.Mapping.from_dict(upload.mapping)
        uploads.upload_set_mapping(upload=upload, mapping=mapping)
        upload = self._wait_job(upload)
        uploads.upload_set_options(
            upload=upload,
            user=user,
            statuses=upload.statuses or {},
            merge_mode=options["merge_mode"] or counter.default_merge_mode,
            hash_pii=counter.hash_personal_data,
            duplicates=upload.duplicates,
            remember_statuses=False,
            language=language,
        )
        upload = self._wait_job(upload)
        uploads.upload_go_to_confirm(upload=upload)
        uploads.upload_confirm(upload=upload, user=user)
        upload.refresh_from_db()
        return upload

    def _wait_job(self, upload: Upload) -> Upload:
        deadline = time.monotonic() + self.timeout
        upload.refresh_from_db()
        while upload.status == Upload.Status.ANALYSING:
            if time.monotonic() > deadline:
                raise CommandError(_("No worker finished reading the file in time."))
            time.sleep(0.2)
            upload.refresh_from_db()
        if upload.error_code:
            message = upload.error_ru if translation.get_language() == "ru" else None
            raise CommandError(message or upload.error_en or upload.error_code)
        return upload

    def _wait_submission(self, submission: Submission) -> Submission:
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            submission.refresh_from_db()
            if submission.status in Submission.TERMINAL:
                return submission
            time.sleep(0.5)
        raise CommandError(_("Metrika did not answer in time; see the history."))
