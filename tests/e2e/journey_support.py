"""Helpers for the end-to-end journey (tests/e2e/test_journey.py).

* the account list a customer would export from their CRM (synthetic, generated at test time:
  every state in proportion to its economy, so California is the biggest), and the short
  customer list with contract values the intake form asks for;
* one browser context per person, logged in through the real login form;
* screenshots numbered across the whole journey, whoever's page they show.
"""

from __future__ import annotations

import csv
import io
import itertools
from dataclasses import dataclass, field
from pathlib import Path

from tests.e2e.conftest import ARTIFACTS

PASSWORD = "pw-for-tests-123"  # tests.factories.make_user

# CRM export headers, as a Salesforce report would name them (the import maps them itself).
CRM_HEADERS = {
    "external_id": "Account ID",
    "name": "Account Name",
    "domain": "Website",
    "industry": "Industry",
    "employees": "Employees",
    "annual_revenue": "Annual Revenue",
    "country": "Billing Country",
    "state": "Billing State",
    "city": "Billing City",
    "postal_code": "Billing Zip",
    "current_owner": "Account Owner",
    "is_customer": "Customer",
    "contract_value": "ACV",
    "named_account_owner": "Named Account Owner",
    "crm_platform": "CRM Platform",
    "growth_signal": "Growth Signal",
}


def account_frame(n: int, seed: int):
    from territories.synthetic import generate_accounts

    return generate_accounts(n, seed=seed, id_prefix="NW")


def account_list_csv(frame) -> bytes:
    """The account universe as a CRM export: yes/no customer flag, blank ACV for prospects."""
    out = frame.rename(columns=CRM_HEADERS).copy()
    out["Customer"] = out["Customer"].map({True: "Yes", False: "No"})
    out["Employees"] = out["Employees"].astype("object").where(out["Employees"].notna(), "")
    return out.to_csv(index=False, float_format="%.0f").encode()


def customer_list_csv(frame) -> bytes:
    """The intake's customer list: the existing customers with their contract values."""
    customers = frame[frame["is_customer"]]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["Account name", "Website", "Industry", "ACV"])
    for row in customers.itertuples():
        writer.writerow([row.name, row.domain, row.industry, f"{row.contract_value:.0f}"])
    return buffer.getvalue().encode()


@dataclass
class Shots:
    """``shots(page, "step")`` saves test-artifacts/<test>/NN-step.png (numbered in order)."""

    folder: Path
    counter: itertools.count = field(default_factory=lambda: itertools.count(1))

    @classmethod
    def for_test(cls, name: str) -> Shots:
        folder = ARTIFACTS / name
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("*.png"):
            old.unlink()
        return cls(folder)

    def __call__(self, page, name: str) -> Path:
        path = self.folder / f"{next(self.counter):02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path


class People:
    """One browser context (own cookies) per person, logged in through the login form."""

    def __init__(self, browser, base_url: str):
        self.browser = browser
        self.base_url = base_url
        self.pages: dict[str, object] = {}

    def _new_page(self):
        context = self.browser.new_context(base_url=self.base_url)
        context.set_default_timeout(30_000)
        return context.new_page()

    def accept_invitation(self, username: str, link: str):
        """The invited person follows the emailed link, chooses a password and logs in."""
        page = self._new_page()
        page.goto(link)
        assert page.locator("h1").inner_text() == "Choose a new password"
        page.fill("#id_new_password1", PASSWORD)
        page.fill("#id_new_password2", PASSWORD)
        page.get_by_role("button", name="Set the password").click()
        page.wait_for_load_state("networkidle")
        assert page.locator("h1").inner_text() == "Your password is set"
        page.get_by_role("link", name="Log in").click()
        self.pages[username] = page
        self._log_in(page, username)
        return page

    def _log_in(self, page, username: str):
        page.fill("#id_username", username)
        page.fill("#id_password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_load_state("networkidle")
        assert "/auth/login/" not in page.url, f"{username} could not log in"

    def __call__(self, username: str):
        if username not in self.pages:
            page = self._new_page()
            page.goto("/auth/login/")
            self._log_in(page, username)
            self.pages[username] = page
        return self.pages[username]

    def close(self):
        for page in self.pages.values():
            page.context.close()
