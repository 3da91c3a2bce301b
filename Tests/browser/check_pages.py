#!/usr/bin/env python3
"""Real-browser checks of Regio's server-rendered dashboard pages.

Signs in as each user of a users file in headless Chromium (Debian's chromium + chromium-driver,
driven by Selenium 4), crawls every page the user can reach from `/`, and checks each page, its
links, its CSV downloads, the user's forbidden paths, CSRF on sign-out, and sign-out itself.
Prints a summary per role and every failure as `role  path  reason`; exits 1 on any failure,
2 when the run itself could not start (no browser, unreadable users file).

See Tests/browser/README.md. Install what it needs with scripts/browser-deps.sh.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import requests
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

WINDOW_WIDTH, WINDOW_HEIGHT = 1280, 900
MAX_SCREENSHOT_HEIGHT = 6000
MAX_QUERY_VARIANTS = 3
TIMEOUT = 30  # seconds, for a page load and for a request
SESSION_COOKIE = "regio_session"

# Everything a page check needs from the DOM, read in one round trip.
PAGE_FACTS_JS = r"""
const body = document.body;
const tables = Array.from(document.querySelectorAll('table')).map((t, i) => ({
  index: i,
  id: t.id || '',
  cls: t.className || '',
  rows: Array.from(t.tBodies).reduce((n, b) => n + b.rows.length, 0),
  emptyOk: t.hasAttribute('data-empty-ok'),
}));
const svgs = Array.from(document.querySelectorAll('svg[role=img]')).map((s, i) => {
  const t = Array.from(s.children).find(c => c.tagName.toLowerCase() === 'title');
  return { index: i, title: t ? t.textContent.trim() : null };
});
const postForms = Array.from(document.querySelectorAll('form'))
  .filter(f => (f.getAttribute('method') || 'get').toLowerCase() === 'post')
  .map(f => {
    const c = f.querySelector('input[name=csrf]');
    return { action: f.getAttribute('action') || '', csrf: c ? (c.value || '') : null,
             hidden: c ? c.type === 'hidden' : false };
  });
let text = '';
if (body) {
  const clone = body.cloneNode(true);
  clone.querySelectorAll('script, style, noscript').forEach(e => e.remove());
  text = clone.textContent || '';
}
return {
  status: body ? body.getAttribute('data-status') : null,
  hasMain: !!document.querySelector('main'),
  charts: document.querySelectorAll('figure.chart svg[role=img]').length,
  reportRows: document.querySelectorAll('table.report tbody tr').length,
  tables: tables,
  svgs: svgs,
  postForms: postForms,
  links: Array.from(document.querySelectorAll('a[href]')).map(a => a.href),
  text: text,
};
"""


@dataclass
class RoleResult:
    role: str
    pages: int = 0
    csvs: int = 0
    links_checked: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)

    def fail(self, path: str, reason: str) -> None:
        self.failures.append((path, reason))


def find_binary(*candidates: str) -> str | None:
    for c in candidates:
        if os.path.sep in c:
            if os.access(c, os.X_OK):
                return c
        elif (found := shutil.which(c)):
            return found
    return None


def new_driver() -> webdriver.Chrome:
    opts = webdriver.ChromeOptions()
    browser = find_binary("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome")
    if browser:
        opts.binary_location = browser
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                f"--window-size={WINDOW_WIDTH},{WINDOW_HEIGHT}", "--hide-scrollbars",
                "--disable-gpu", "--no-first-run", "--disable-extensions",
                "--disable-background-networking", "--disable-sync", "--lang=en-US"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver_path = find_binary("/usr/bin/chromedriver", "chromedriver")
    if not driver_path:
        raise RuntimeError("chromedriver not found: run scripts/browser-deps.sh")
    # With an explicit driver path Selenium Manager is not asked to download anything.
    driver = webdriver.Chrome(options=opts, service=Service(executable_path=driver_path))
    driver.set_page_load_timeout(TIMEOUT)
    driver.set_window_size(WINDOW_WIDTH, WINDOW_HEIGHT)
    return driver


# --- URLs -------------------------------------------------------------------------------------

def normalise(url: str) -> str:
    """Absolute URL without fragment, with a path (at least `/`) and sorted query parameters."""
    parts = urlsplit(url)
    path = parts.path or "/"
    path = re.sub(r"/{2,}", "/", path)
    query = urlencode(sorted(parse_qsl(parts.query, keep_blank_values=True)))
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), path, query, ""))


def path_query(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def same_origin(url: str, base: str) -> bool:
    a, b = urlsplit(url), urlsplit(base)
    return (a.scheme, a.hostname, a.port or default_port(a.scheme)) == \
           (b.scheme, b.hostname, b.port or default_port(b.scheme))


def default_port(scheme: str) -> int | None:
    return {"http": 80, "https": 443}.get(scheme)


def is_csv(url: str) -> bool:
    parts = urlsplit(url)
    if parts.path.lower().endswith(".csv"):
        return True
    return any(k == "format" and v.lower() == "csv" for k, v in parse_qsl(parts.query, keep_blank_values=True))


def slug(path_and_query: str) -> str:
    s = path_and_query.strip("/")
    s = re.sub(r"[^A-Za-z0-9._-]+", "-", s).strip("-.")
    return (s or "index")[:150]


# --- Browser helpers --------------------------------------------------------------------------

def wait_ready(driver) -> None:
    WebDriverWait(driver, TIMEOUT).until(
        lambda d: d.execute_script("return document.readyState") == "complete")


def submit_and_wait(driver, form) -> None:
    """Click the form's submit button (or submit it) and wait for the next page to load."""
    html = driver.find_element(By.TAG_NAME, "html")
    buttons = form.find_elements(By.CSS_SELECTOR, "button[type=submit]")
    if buttons:
        buttons[0].click()
    else:
        driver.execute_script("arguments[0].requestSubmit ? arguments[0].requestSubmit() : arguments[0].submit()", form)
    WebDriverWait(driver, TIMEOUT).until(lambda _: is_stale(html))
    wait_ready(driver)


def is_stale(element) -> bool:
    """Whether the element's document has been replaced. Chromedriver sometimes answers a node of a
    replaced document with an inspector error instead of "stale element reference"
    (SeleniumHQ/selenium#15401); both mean the same here."""
    try:
        element.is_enabled()
        return False
    except StaleElementReferenceException:
        return True
    except WebDriverException as e:
        if "does not belong to the document" in str(e) or "No node with given id" in str(e):
            return True
        raise


def severe_console_entries(driver) -> list[str]:
    try:
        entries = driver.get_log("browser")
    except WebDriverException:
        return []
    return [e.get("message", "") for e in entries
            if e.get("level") == "SEVERE" and "favicon" not in e.get("message", "").lower()]


def body_status(driver) -> str | None:
    try:
        return driver.find_element(By.TAG_NAME, "body").get_attribute("data-status")
    except WebDriverException:
        return None


def current_path(driver) -> str:
    return urlsplit(driver.current_url).path or "/"


# --- One user ---------------------------------------------------------------------------------

class UserRun:
    def __init__(self, base: str, user: dict, artifacts: Path, max_pages: int, check_wrong_password: bool):
        self.base = base.rstrip("/")
        self.user = user
        self.role = user.get("role") or user.get("username") or "?"
        self.result = RoleResult(self.role)
        self.shots = artifacts / slug(self.role)
        self.max_pages = max_pages
        self.check_wrong_password = check_wrong_password
        self.forbidden_strings = [s for s in user.get("must_not_contain", []) if s]
        self.http = requests.Session()
        self.http.headers["User-Agent"] = "regio-browser-check"
        self.driver = None
        self.used_slugs: set[str] = set()
        # Console entries can arrive after the page that caused them was checked: the buffer is
        # drained again before the next navigation and what it holds charged to its owner.
        self.console_owner: str | None = None
        self.console_seen: set[tuple[str, str]] = set()

    def url(self, path: str) -> str:
        return urljoin(self.base + "/", path.lstrip("/")) if not path.startswith("http") else path

    def fail(self, path: str, reason: str) -> None:
        self.result.fail(path, reason)

    def drain_console(self, skip_document_error: bool = False) -> None:
        """Charge SEVERE console entries to the page that owns the log, each message once."""
        entries = severe_console_entries(self.driver)
        owner = self.console_owner
        if owner is None:
            return
        for entry in entries:
            if skip_document_error and entry.startswith(self.driver.current_url + " - Failed to load resource"):
                continue  # the page's own error status, already reported
            if (owner, entry) not in self.console_seen:
                self.console_seen.add((owner, entry))
                self.fail(owner, f"console error: {entry[:300]}")

    def expect_console_noise(self) -> None:
        """The next navigation may log errors on purpose (a 401, a 403): charge them to no page."""
        self.drain_console()
        self.console_owner = None

    def cookies(self) -> dict[str, str]:
        return {c["name"]: c["value"] for c in self.driver.get_cookies()}

    def request(self, method: str, url: str, cookies: dict | None = None, **kw) -> requests.Response:
        self.http.cookies.clear()  # only the browser's cookies of this moment, never stale ones
        return self.http.request(method, url, cookies=self.cookies() if cookies is None else cookies,
                                 timeout=TIMEOUT, **kw)

    def run(self) -> RoleResult:
        try:
            self.driver = new_driver()
        except Exception as e:  # noqa: BLE001 - report and go on with the other users
            self.fail("-", f"could not start the browser: {one_line(e)}")
            return self.result
        try:
            if self.sign_in():
                self.crawl()
                self.check_forbidden()
                self.check_csrf()
                self.sign_out()
        except Exception as e:  # noqa: BLE001
            self.fail(path_query(self.driver.current_url) if self.driver else "-",
                      f"run aborted: {type(e).__name__}: {one_line(e)}")
        finally:
            try:
                self.driver.quit()
            except Exception:  # noqa: BLE001
                pass
        return self.result

    # sign-in ----------------------------------------------------------------------------------

    def fill_sign_in(self, password: str) -> bool:
        d = self.driver
        # Leave the current document first: after a failed sign-in the browser is already on
        # /sign-in, and elements looked up before the new document replaces it go stale.
        d.get("about:blank")
        d.get(self.url("/sign-in"))
        wait_ready(d)
        WebDriverWait(d, 10).until(lambda drv: drv.find_elements(By.CSS_SELECTOR, "input[name=username]"))
        status = body_status(d)
        if status != "200":
            self.fail("/sign-in", f"sign-in page has data-status={status!r}, expected '200'")
        users = d.find_elements(By.CSS_SELECTOR, "input[name=username]")
        passwords = d.find_elements(By.CSS_SELECTOR, "input[name=password]")
        if not users or not passwords:
            self.fail("/sign-in", "no input[name=username] / input[name=password] on the sign-in page")
            return False
        form = users[0].find_element(By.XPATH, "./ancestor::form")
        if not form.find_elements(By.CSS_SELECTOR, "input[type=hidden][name=csrf]"):
            self.fail("/sign-in", "sign-in form has no hidden csrf input")
        if not form.find_elements(By.CSS_SELECTOR, "button[type=submit]"):
            self.fail("/sign-in", "sign-in form has no button[type=submit]")
        users[0].clear()
        users[0].send_keys(self.user["username"])
        passwords[0].clear()
        passwords[0].send_keys(password)
        submit_and_wait(d, form)
        return True

    def sign_in(self) -> bool:
        d = self.driver
        self.console_owner = None
        if self.check_wrong_password:
            # The one wrong attempt of the run: repeated failures lock the account.
            if self.fill_sign_in(self.user["password"] + "-wrong"):
                if current_path(d) != "/sign-in":
                    self.fail("/sign-in", f"a wrong password led to {path_query(d.current_url)}, expected the sign-in page again")
                elif not d.find_elements(By.CSS_SELECTOR, ".error"):
                    self.fail("/sign-in", "a wrong password shows no .error element")
                elif not d.find_elements(By.CSS_SELECTOR, "input[name=username]"):
                    self.fail("/sign-in", "after a wrong password the page has no sign-in form")
                if any(c["name"] == SESSION_COOKIE for c in d.get_cookies()):
                    # Not necessarily wrong (an anonymous session), but no session must let us in.
                    r = self.request("GET", self.url("/"), allow_redirects=False)
                    if r.status_code == 200:
                        self.fail("/sign-in", "after a wrong password `/` answers 200: signed in anyway")
            severe_console_entries(d)  # a 401/422 answer logs a console error: not a page fault
            time.sleep(0.2)
            severe_console_entries(d)
        if not self.fill_sign_in(self.user["password"]):
            return False
        self.console_owner = "/sign-in"
        self.drain_console()
        if current_path(d) != "/":
            extra = " (.error shown: wrong credentials or a locked account?)" if d.find_elements(By.CSS_SELECTOR, ".error") else ""
            self.fail("/sign-in", f"signing in led to {path_query(d.current_url)}, expected /{extra}")
            return False
        session = [c for c in d.get_cookies() if c["name"] == SESSION_COOKIE]
        if not session:
            self.fail("/sign-in", f"no {SESSION_COOKIE} cookie after signing in")
        else:
            c = session[0]
            if not c.get("httpOnly"):
                self.fail("/sign-in", f"{SESSION_COOKIE} cookie is not HttpOnly")
            if c.get("sameSite") != "Strict":
                self.fail("/sign-in", f"{SESSION_COOKIE} cookie has SameSite={c.get('sameSite')!r}, expected Strict")
        return True

    # crawl ------------------------------------------------------------------------------------

    def crawl(self) -> None:
        start = normalise(self.url("/"))
        queue: deque[tuple[str, str]] = deque([(start, "(start)")])
        seen: set[str] = {start}
        variants: dict[str, int] = {"/": 1}
        csv_seen: set[str] = set()
        link_checks_left = self.max_pages * 3  # links beyond the page cap are still fetched, up to this

        def enqueue(link: str, found_on: str) -> None:
            try:
                parts = urlsplit(link)
            except ValueError:
                self.fail(found_on, f"unparseable link {link!r}")
                return
            if parts.scheme not in ("http", "https") or not same_origin(link, self.base):
                return
            n = normalise(link)
            p = urlsplit(n).path
            if p.rstrip("/") == "/sign-out":
                return
            if is_csv(n):
                if n not in csv_seen:
                    csv_seen.add(n)
                    self.check_csv(n, found_on)
                return
            if n in seen:
                return
            if variants.get(p, 0) >= MAX_QUERY_VARIANTS:
                return
            variants[p] = variants.get(p, 0) + 1
            seen.add(n)
            queue.append((n, found_on))

        while queue:
            url, found_on = queue.popleft()
            if self.result.pages >= self.max_pages:
                # Over the cap: no browser, but the link itself must still work.
                if link_checks_left > 0:
                    link_checks_left -= 1
                    self.check_link(url, found_on)
                continue
            for link in self.visit(url, found_on):
                enqueue(link, path_query(url))
                # A redirect target counts as seen, so it is not opened twice.
            if self.driver.current_url:
                seen.add(normalise(self.driver.current_url))

    def check_link(self, url: str, found_on: str) -> int | None:
        pq = path_query(url)
        self.result.links_checked += 1
        try:
            r = self.request("GET", url, allow_redirects=True)
        except requests.RequestException as e:
            self.fail(pq, f"request failed: {one_line(e)} (linked from {found_on})")
            return None
        for hop in [*r.history, r]:
            if hop.status_code >= 500:
                self.fail(pq, f"HTTP {hop.status_code} (linked from {found_on})")
                return hop.status_code
        if r.status_code >= 400:
            self.fail(pq, f"broken link: HTTP {r.status_code} (linked from {found_on})")
        if urlsplit(r.url).path == "/sign-in" and urlsplit(url).path != "/sign-in":
            self.fail(pq, f"link redirects to the sign-in page: session lost? (linked from {found_on})")
        return r.status_code

    def visit(self, url: str, found_on: str) -> list[str]:
        """Open one page in the browser, check it, screenshot it; return its links."""
        pq = path_query(url)
        self.check_link(url, found_on)
        d = self.driver
        self.drain_console()  # late entries of the previous page
        self.console_owner = pq
        try:
            d.get(url)
            wait_ready(d)
        except TimeoutException:
            self.fail(pq, f"page did not load within {TIMEOUT} s")
            return []
        self.result.pages += 1
        final = path_query(d.current_url)
        where = pq if final == pq else f"{pq} -> {final}"
        self.console_owner = where
        if urlsplit(d.current_url).path == "/sign-in":
            self.fail(where, "redirected to the sign-in page: session lost")
            self.console_owner = None
            return []

        facts = d.execute_script(PAGE_FACTS_JS)
        status = facts["status"]
        error_page = False
        if status is None:
            self.fail(where, "<body> has no data-status")
        elif not status.isdigit():
            self.fail(where, f"<body data-status={status!r}> is not a status code")
        elif int(status) >= 400:
            self.fail(where, f"page shows data-status={status}")
            error_page = True
        self.drain_console(skip_document_error=error_page)
        if not facts["hasMain"]:
            self.fail(where, "no <main> element")
        path = urlsplit(d.current_url).path
        if error_page:
            # An error page is reported above; its missing report content would only repeat it,
            # and its links are not followed.
            self.check_isolation(where, facts["text"])
            self.screenshot(final)
            self.drain_console(skip_document_error=True)
            return []
        if path.startswith("/reports/"):
            if facts["charts"] == 0:
                self.fail(where, "report page has no svg[role=img] inside figure.chart")
            if facts["reportRows"] == 0:
                self.fail(where, "report page has no rows in table.report tbody")
        for t in facts["tables"]:
            if t["rows"] == 0 and not t["emptyOk"]:
                name = f"#{t['id']}" if t["id"] else (f".{t['cls'].split()[0]}" if t["cls"].strip() else f"[{t['index']}]")
                self.fail(where, f"table{name} has no tbody rows (and no data-empty-ok)")
        for s in facts["svgs"]:
            if not s["title"]:
                self.fail(where, f"svg[role=img] #{s['index'] + 1} has no non-empty <title>")
        for f in facts["postForms"]:
            if f["csrf"] is None or not f["hidden"]:
                self.fail(where, f"POST form action={f['action']!r} has no hidden csrf input")
            elif not f["csrf"].strip():
                self.fail(where, f"POST form action={f['action']!r} has an empty csrf value")
        self.check_isolation(where, facts["text"])
        self.screenshot(final)
        self.drain_console()
        return facts["links"]

    def check_isolation(self, where: str, text: str) -> None:
        for s in self.forbidden_strings:
            if s in text:
                i = text.index(s)
                context = " ".join(text[max(0, i - 40): i + len(s) + 40].split())
                self.fail(where, f"page text contains {s!r}: …{context}…")

    def check_csv(self, url: str, found_on: str) -> None:
        pq = path_query(url)
        self.result.csvs += 1
        try:
            r = self.request("GET", url, allow_redirects=True)
        except requests.RequestException as e:
            self.fail(pq, f"CSV request failed: {one_line(e)} (linked from {found_on})")
            return
        if r.status_code != 200:
            kind = "HTTP" if r.status_code >= 500 else "broken CSV link: HTTP"
            self.fail(pq, f"{kind} {r.status_code}, expected 200 (linked from {found_on})")
            return
        ctype = r.headers.get("Content-Type", "")
        if ctype.split(";")[0].strip().lower() != "text/csv":
            self.fail(pq, f"CSV answered Content-Type {ctype!r}, expected text/csv")
        text = r.content.decode(r.encoding or "utf-8", errors="replace").lstrip("\ufeff")
        header = text.splitlines()[0] if text else ""
        if not header.strip():
            self.fail(pq, "CSV has an empty header line")
        self.check_isolation(pq, text)

    def screenshot(self, pq: str) -> None:
        d = self.driver
        name = slug(pq)
        if name in self.used_slugs:
            n = 2
            while f"{name}-{n}" in self.used_slugs:
                n += 1
            name = f"{name}-{n}"
        self.used_slugs.add(name)
        self.shots.mkdir(parents=True, exist_ok=True)
        try:
            # The window's height includes the browser's own frame: add it, so the viewport (what
            # the screenshot shows) holds the whole body, up to MAX_SCREENSHOT_HEIGHT.
            height, frame = d.execute_script(
                "return [Math.max(document.body ? document.body.scrollHeight : 0,"
                " document.documentElement.scrollHeight), window.outerHeight - window.innerHeight]")
            height = min(int(height or 0), MAX_SCREENSHOT_HEIGHT)
            d.set_window_size(WINDOW_WIDTH, max(WINDOW_HEIGHT, height + max(0, int(frame or 0))))
            d.save_screenshot(str(self.shots / f"{name}.png"))
        finally:
            d.set_window_size(WINDOW_WIDTH, WINDOW_HEIGHT)

    # forbidden, CSRF, sign-out ----------------------------------------------------------------

    def check_forbidden(self) -> None:
        d = self.driver
        self.expect_console_noise()  # each forbidden page's 403 logs a console error
        for path in self.user.get("forbidden", []):
            url = self.url(path)
            try:
                r = self.request("GET", url, allow_redirects=False)
                if r.status_code != 403:
                    self.fail(path, f"forbidden path answered HTTP {r.status_code}, expected 403")
            except requests.RequestException as e:
                self.fail(path, f"request failed: {one_line(e)}")
            try:
                d.get(url)
                wait_ready(d)
            except TimeoutException:
                self.fail(path, f"forbidden page did not load within {TIMEOUT} s")
                continue
            status = body_status(d)
            if status != "403":
                self.fail(path, f"forbidden page in the browser shows data-status={status!r}, expected '403'")
            self.check_isolation(path, d.find_element(By.TAG_NAME, "body").text if status else "")

    def check_csrf(self) -> None:
        for label, data in (("without the csrf field", {}), ("with a wrong csrf value", {"csrf": "not-the-token"})):
            try:
                r = self.request("POST", self.url("/sign-out"), data=data, allow_redirects=False,
                                 headers={"Origin": self.base, "Referer": self.url("/")})
            except requests.RequestException as e:
                self.fail("/sign-out", f"CSRF check: request failed: {one_line(e)}")
                continue
            if r.status_code != 403:
                self.fail("/sign-out", f"POST {label} answered HTTP {r.status_code}, expected 403")

    def sign_out(self) -> None:
        d = self.driver
        d.get(self.url("/"))
        wait_ready(d)
        if current_path(d) != "/":
            self.fail("/sign-out", f"before signing out `/` led to {path_query(d.current_url)}: session lost (by the CSRF check?)")
            return
        old_cookies = self.cookies()
        forms = d.find_elements(By.CSS_SELECTOR, 'form[action="/sign-out"]')
        if not forms:
            self.fail("/", 'no form[action="/sign-out"] on the home page')
            return
        submit_and_wait(d, forms[0])
        severe_console_entries(d)
        d.get(self.url("/"))
        wait_ready(d)
        if current_path(d) != "/sign-in":
            self.fail("/sign-out", f"after signing out `/` shows {path_query(d.current_url)}, expected a redirect to /sign-in")
        severe_console_entries(d)
        # The old session cookie, replayed, must not work either: signing out ends it on the server.
        try:
            r = self.request("GET", self.url("/"), cookies=old_cookies, allow_redirects=False)
            if r.status_code == 200:
                self.fail("/sign-out", "the session cookie from before signing out still opens `/`")
        except requests.RequestException as e:
            self.fail("/sign-out", f"request failed: {one_line(e)}")


def one_line(e: BaseException) -> str:
    text = e.msg if isinstance(e, WebDriverException) and e.msg else str(e)  # without the driver's stack trace
    return " ".join(str(text).split())[:300]


# --- Main -------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base-url", help="e.g. http://127.0.0.1:8082 (overrides the users file's base_url)")
    ap.add_argument("--users", required=True, type=Path, help="JSON: {base_url, users: [{role, username, password, forbidden, must_not_contain}]}")
    ap.add_argument("--artifacts", type=Path, default=Path(".regio/browser"), help="screenshots go to ARTIFACTS/ROLE/ (default .regio/browser)")
    ap.add_argument("--max-pages-per-role", type=int, default=60)
    args = ap.parse_args(argv)

    try:
        spec = json.loads(args.users.read_text(encoding="utf-8"))
        users = spec["users"]
        for u in users:
            for key in ("username", "password"):
                if not isinstance(u.get(key), str):
                    raise ValueError(f"a user has no {key}")
    except (OSError, ValueError, KeyError, TypeError) as e:
        print(f"check_pages: cannot read {args.users}: {e}", file=sys.stderr)
        return 2
    base = args.base_url or spec.get("base_url")
    if not base:
        print("check_pages: no base URL (--base-url or base_url in the users file)", file=sys.stderr)
        return 2

    try:
        requests.get(base.rstrip("/") + "/sign-in", timeout=TIMEOUT)
    except requests.RequestException as e:
        print(f"check_pages: cannot reach {base}: {one_line(e)}", file=sys.stderr)
        return 2

    started = time.monotonic()
    results: list[RoleResult] = []
    for i, user in enumerate(users):
        print(f"… {user.get('role', '?')} ({user['username']})", file=sys.stderr, flush=True)
        results.append(UserRun(base, user, args.artifacts, args.max_pages_per_role,
                               check_wrong_password=(i == 0)).run())

    print(f"\nBrowser checks of {base} ({time.monotonic() - started:.0f} s; screenshots in {args.artifacts}/)")
    width = max([len(r.role) for r in results] + [4])
    print(f"  {'role':<{width}}  pages  csvs  links  failures")
    for r in results:
        print(f"  {r.role:<{width}}  {r.pages:>5}  {r.csvs:>4}  {r.links_checked:>5}  {len(r.failures):>8}")
    failures = [(r.role, p, why) for r in results for p, why in r.failures]
    if failures:
        print(f"\n{len(failures)} failure(s):")
        for role, p, why in failures:
            print(f"{role}  {p}  {why}")
        return 1
    print("\nno failures")
    return 0


if __name__ == "__main__":
    sys.exit(main())
