from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = "Integrations and messages"

    def ready(self) -> None:
        from integrations.smsbroadcast.settings import check_sender

        # A sender id the provider refuses would fail every send at run time; fail at start.
        check_sender()
