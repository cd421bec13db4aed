from celery import shared_task

from ordersync.counters import selectors, services


@shared_task(name="counters.refresh_due_tokens")
def refresh_due_tokens() -> None:
    """Queue a refresh for every account whose token is close to expiry."""
    for account_id in selectors.account_ids_due_for_refresh():
        refresh_account_token.delay(account_id)


@shared_task(name="counters.refresh_account_token")
def refresh_account_token(account_id: int) -> str:
    """Refresh one account's token if it is still due."""
    return services.account_refresh_token(account_id=account_id).value
