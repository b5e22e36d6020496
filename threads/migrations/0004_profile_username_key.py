"""Profile.username_key: the NFKC_Casefold form of the username, unique (issue 14, item 5).

Existing profiles get their key; where two existing names share one (``Bob`` and ``bob``), the older
profile keeps it and the newer one stays NULL (still unique: NULLs never clash), to be settled by hand.
"""

import unicodedata

from django.db import migrations, models


def username_key(name: str) -> str:  # frozen copy of threads.services.usernames.username_key
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())


def backfill(apps, schema_editor):
    Profile = apps.get_model("threads", "Profile")
    seen = set()
    for profile in Profile.objects.select_related("user").order_by("pk"):
        key = username_key(profile.user.username)
        if key in seen:
            continue
        seen.add(key)
        Profile.objects.filter(pk=profile.pk).update(username_key=key)


class Migration(migrations.Migration):
    dependencies = [("threads", "0003_counter_claims")]

    operations = [
        migrations.AddField(
            model_name="profile",
            name="username_key",
            field=models.CharField(editable=False, max_length=150, null=True, unique=True),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
