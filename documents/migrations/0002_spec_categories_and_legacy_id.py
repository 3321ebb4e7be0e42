from django.db import migrations, models

# SPEC §2 names six categories: referral, report, image, consent, letter, other.
# "imaging" and "photo" become "image"; a reverse migration cannot tell which an image was,
# so it calls them all "imaging".
FORWARD = {"imaging": "image", "photo": "image"}


def to_spec_categories(apps, schema_editor):
    Document = apps.get_model("documents", "Document")
    for old, new in FORWARD.items():
        Document.objects.filter(category=old).update(category=new)


def to_old_categories(apps, schema_editor):
    Document = apps.get_model("documents", "Document")
    Document.objects.filter(category="image").update(category="imaging")
    Document.objects.filter(category="letter").update(category="report")


class Migration(migrations.Migration):
    dependencies = [
        ("documents", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="document",
            name="legacy_id",
            field=models.CharField(blank=True, max_length=64, null=True, unique=True),
        ),
        migrations.AlterField(
            model_name="document",
            name="category",
            field=models.CharField(
                choices=[
                    ("referral", "Referral"),
                    ("report", "Report"),
                    ("image", "Image or photo"),
                    ("consent", "Consent form"),
                    ("letter", "Letter"),
                    ("other", "Other"),
                ],
                max_length=16,
            ),
        ),
        migrations.RunPython(to_spec_categories, to_old_categories),
    ]
