import os
from pathlib import Path

import pytest

from tests.browser.conftest import log_in

pytestmark = pytest.mark.django_db(transaction=True)
SHOTS = Path(os.environ.get("NAV_SHOTS_DIR", "var/screenshots"))


def _nav_items_top(page) -> list[float]:
    return [
        box["y"]
        for box in (
            el.bounding_box()
            for el in page.locator("#nav-main > ul > li.nav-item").all()
        )
        if box
    ]


@pytest.mark.parametrize(
    ("who", "password"),
    [("alice-admin", "pw-admin-123456"), ("bob-marketer", "pw-marketer-123456")],
)
def test_nav_fits_one_line_at_1366_px(
    page, live_server, admin_user, marketer, who, password
):
    log_in(page, live_server, who, password)
    page.goto(f"{live_server.url}/")
    tops = _nav_items_top(page)
    # One line: every item starts within a few pixels of the others.
    assert len(tops) >= 5 and max(tops) - min(tops) < 10
    SHOTS.mkdir(parents=True, exist_ok=True)
    if who == "alice-admin":
        page.get_by_role("button", name="Администрирование").click()
        menu = page.locator('[data-testid="admin-menu"] .dropdown-menu')
        assert menu.is_visible()
        assert menu.inner_text().split("\n") == [
            "Аккаунты Яндекса",
            "Журнал безопасности",
            "Состояние системы",
        ]
    else:
        assert page.locator('[data-testid="admin-menu"]').count() == 0
    page.screenshot(path=str(SHOTS / f"nav-1366-{who}.png"))
    assert page.console_errors == []
