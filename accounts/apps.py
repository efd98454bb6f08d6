from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"

    def ready(self) -> None:
        from accounts import revocation  # noqa: F401  (connects the password-change receiver)
