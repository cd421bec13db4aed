import re

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def _top_level_items(html: str) -> list[str]:
    nav = html.split('<ul class="navbar-nav me-auto">', 1)[1].split("</ul>", 1)[0]
    return [
        re.sub(r"<[^>]+>", "", m).strip()
        for m in re.findall(r'<a class="nav-link[^"]*"[^>]*>(.*?)</a>', nav)
    ]


def test_marketer_sees_four_items_and_no_administration(client, marketer):
    client.force_login(marketer)
    html = client.get(reverse("core:dashboard")).text
    assert _top_level_items(html) == [
        "Обзор",
        "Новая загрузка",
        "История загрузок",
        "Счётчики",
    ]
    assert 'data-testid="admin-menu"' not in html
    assert reverse("core:audit_log") not in html


def test_admin_items_sit_in_one_administration_dropdown(client, admin_user):
    client.force_login(admin_user)
    html = client.get(reverse("core:audit_log")).text
    assert _top_level_items(html)[-1] == "Администрирование"
    menu = html.split('data-testid="admin-menu"', 1)[1].split("</li>\n</ul>", 1)[0]
    for name in ("counters:account_list", "core:audit_log", "core:health"):
        assert f'href="{reverse(name)}"' in menu
    assert "Аккаунты Яндекса" in menu and "Журнал безопасности" in menu
    assert 'class="nav-link dropdown-toggle active"' in html
    assert f'<a class="dropdown-item active" href="{reverse("core:audit_log")}"' in html
