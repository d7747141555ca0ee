"""``python manage.py build_package ENGAGEMENT [--out DIR] [--force]``: build the documentation
package now (in this process), print the zip's path; progress goes to stderr."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from engagements.models import Engagement


class Command(BaseCommand):
    help = "Build an engagement's documentation package and print the zip's path."

    def add_arguments(self, parser):
        parser.add_argument("engagement", help="Engagement id, or its exact name.")
        parser.add_argument("--out", help="Also copy the zip into this existing directory.")
        parser.add_argument(
            "--force", action="store_true", help="Make a new version even if nothing changed."
        )

    def handle(self, *args, **options):
        from handoff.package import PackageError, package_build, package_path

        engagement = _engagement(options["engagement"])
        out = options.get("out")
        if out is not None:
            out_dir = Path(out)
            if not out_dir.is_dir():
                raise CommandError(f"--out {out}: no such directory.")
            probe = out_dir / ".build_package_write_test"
            try:
                probe.write_bytes(b"")
                probe.unlink()
            except OSError as exc:
                raise CommandError(f"--out {out}: cannot write there ({exc.strerror}).") from exc

        err = self.stderr._out if hasattr(self.stderr, "_out") else sys.stderr
        tty = hasattr(err, "isatty") and err.isatty()

        def progress(pct: float, message: str) -> None:
            bar = "#" * int(pct // 5)
            line = f"[{bar:<20}] {pct:5.1f}% {message}"
            err.write(("\r" + line.ljust(100)) if tty else line + "\n")
            err.flush()

        try:
            result = package_build(engagement=engagement, progress=progress, force=options["force"])
        except PackageError as exc:
            if tty:
                err.write("\n")
            raise CommandError(str(exc)) from exc
        if tty:
            err.write("\n")
        if not result.created:
            err.write(
                f"The data has not changed since v{result.package.version}; "
                "not building a new version (use --force to make one).\n"
            )
        path = package_path(result.package)
        if out is not None:
            target = Path(out) / path.name
            shutil.copyfile(path, target)
            path = target
        self.stdout.write(str(path.resolve()))


def _engagement(ref: str) -> Engagement:
    qs = Engagement.objects.select_related("organization")
    found = qs.filter(pk=int(ref)).first() if ref.isdigit() else qs.filter(name=ref).first()
    if found is None:
        raise CommandError(f"No engagement {ref!r} (give its id or its exact name).")
    return found
