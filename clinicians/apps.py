from django.apps import AppConfig


class CliniciansConfig(AppConfig):
    name = "clinicians"
