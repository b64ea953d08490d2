"""The Casting console in real Chromium, as an artist uses it: describe, preview, save,
branch, make default, cast, delete, import; and each failure said in plain words.

One service for the module (its own SQLite file and blobs); each test makes its own actors.
A screenshot of each main page goes to test-artifacts/console/.
"""

from __future__ import annotations

import io
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from dependency_injector import providers
from PIL import Image, ImageDraw
from selenium.common.exceptions import WebDriverException
from selenium.webdriver import Chrome
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.wait import WebDriverWait

from casting.domain.errors import GenerationBlocked, UpstreamBusy
from casting.server.container import Container
from casting.server.settings import Settings
from casting.v1 import casting_pb2 as pb
from casting.v1 import casting_pb2_grpc
from tests.support.browser import ScriptedGenerator, ServiceThread, chromium, screenshot
from tests.support.console import write_token_file
from tests.support.ports import free_port

PROJECT = "studio"


@dataclass(frozen=True)
class Console:
    url: str
    grpc_port: int

    def page(self, path: str) -> str:
        return f"{self.url}/projects/{PROJECT}{path}"


@pytest.fixture(scope="module")
def model() -> ScriptedGenerator:
    return ScriptedGenerator()


def a_service(directory: Path, sqlite_template: Path, **settings: Any) -> Container:
    """The container of a service of its own (SQLite file, blobs) with the console on a free port."""
    shutil.copyfile(sqlite_template, directory / "casting.db")
    container = Container()
    container.settings.override(
        Settings(
            host="127.0.0.1",
            port=0,
            database_url=f"sqlite+aiosqlite:///{directory / 'casting.db'}",
            blob_url=f"file://{directory / 'blobs'}",
            generator="offline",
            grace_period_seconds=1,
            collect_interval_seconds=0,
            console_port=free_port(),
            console_project=PROJECT,
            **settings,
        )
    )
    return container


@pytest.fixture(scope="module")
def console(
    tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path, model: ScriptedGenerator
) -> Iterator[Console]:
    container = a_service(tmp_path_factory.mktemp("console"), sqlite_template)
    container.model.override(providers.Object(model))
    with ServiceThread(container) as live:
        yield Console(f"http://127.0.0.1:{live.console_port}", live.port)


@pytest.fixture(scope="module")
def guarded_console(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Console]:
    """A service with a token file: the console asks for a sign-in."""
    directory = tmp_path_factory.mktemp("guarded")
    write_token_file(directory / "tokens.yaml", {"studio-token": [PROJECT, "pilot-season"]})
    container = a_service(directory, sqlite_template, auth_tokens_file=str(directory / "tokens.yaml"))
    with ServiceThread(container) as live:
        yield Console(f"http://127.0.0.1:{live.console_port}", live.port)


@pytest.fixture(scope="module")
def browser() -> Iterator[Chrome]:
    with chromium() as driver:
        yield driver


def wait(browser: Chrome, seconds: float = 15) -> WebDriverWait[Chrome]:
    return WebDriverWait(browser, seconds)


def until_replaced(browser: Chrome, element: WebElement, seconds: float) -> None:
    """Waits for the next page to replace `element`'s. While the old page is torn down,
    chromedriver may answer a question about the element with an inspector error ("Node with
    given id does not belong to the document") instead of a stale reference: asked again, it
    is stale."""
    waiting = WebDriverWait(browser, seconds, ignored_exceptions=(WebDriverException,))
    waiting.until(EC.staleness_of(element))


def submit(browser: Chrome, form: WebElement) -> None:
    """Submits the form and waits for the page that answers."""
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    until_replaced(browser, form, 30)


def fill(form: WebElement, **values: str) -> None:
    for name, value in values.items():
        field = form.find_element(By.NAME, name)
        if field.tag_name == "select":
            Select(field).select_by_visible_text(value)
        else:
            field.clear()
            field.send_keys(value)


def look(browser: Chrome, name: str) -> WebElement:
    return browser.find_element(By.CSS_SELECTOR, f'article.look[data-look="{name}"]')


def click_in(element: WebElement, label: str) -> None:
    """Clicks the button labelled `label` inside `element` and waits for the next page."""
    button = element.find_element(By.XPATH, f'.//button[normalize-space()="{label}"]')
    button.click()
    until_replaced(element.parent, button, 15)


def loaded_width(browser: Chrome, image: WebElement) -> int:
    """The decoded width of an <img>, once loaded (0 if it could not be)."""
    wait(browser).until(lambda _: browser.execute_script("return arguments[0].complete", image))
    return int(browser.execute_script("return arguments[0].naturalWidth", image))


def error_text(browser: Chrome) -> str:
    return browser.find_element(By.ID, "error").text


def test_an_actor_from_description_to_deletion(
    console: Console, browser: Chrome, model: ScriptedGenerator
) -> None:
    browser.get(console.url)
    assert browser.current_url == console.page("/actors")
    browser.find_element(By.LINK_TEXT, "New actor").click()
    form = browser.find_element(By.ID, "generate")
    fill(
        form,
        story_style="Romance",
        image_style="Webtoon",
        gender="Female",
        age_range="Young adult",
        hair_traits="long red hair in a braid",
        outfit="yellow raincoat",
        mood="cheerful",
    )
    screenshot(browser, "generate")

    # On submit the button goes off and the page says the model is drawing. The test's own
    # listener runs after the console's and holds the page, to look at it before it goes.
    browser.execute_script(
        "document.addEventListener('submit', (e) => { if (window.holding) e.preventDefault(); });"
        "window.holding = true;"
    )
    button = form.find_element(By.CSS_SELECTOR, "button[type=submit]")
    button.click()
    busy = form.find_element(By.CSS_SELECTOR, ".busy")
    assert busy.is_displayed()
    assert "Drawing the sheet" in busy.text
    assert not button.is_enabled()
    screenshot(browser, "generate-drawing")
    browser.execute_script("window.holding = false; arguments[0].submit();", form)
    wait(browser, 30).until(EC.url_contains("/sheets/"))

    assert loaded_width(browser, browser.find_element(By.CSS_SELECTOR, "img.sheet")) == 768
    assert "long red hair in a braid" in browser.find_element(By.CSS_SELECTOR, "dl.traits").text
    screenshot(browser, "preview")
    save = browser.find_element(By.ID, "save")
    fill(save, display_name="Mina Park", description="The lead of the pilot.")
    submit(browser, save)

    assert browser.find_element(By.ID, "actor-name").text == "Mina Park"
    default = look(browser, "Default")
    assert "Default" in default.find_element(By.CSS_SELECTOR, ".badges").text
    delete_default = default.find_element(By.XPATH, './/button[normalize-space()="Delete"]')
    assert not delete_default.is_enabled()
    assert "default look cannot be deleted" in default.find_element(By.CSS_SELECTOR, ".why").text
    screenshot(browser, "actor")

    browser.find_element(By.ID, "branch").click()
    branch = browser.find_element(By.ID, "branch-form")
    assert branch.find_element(By.CSS_SELECTOR, "input[name=base]:checked").get_attribute("value")
    fill(branch, hair_traits="short silver bob", display_name="Silver")
    screenshot(browser, "branch")
    submit(browser, branch)

    assert browser.find_element(By.ID, "look-name").text == "Silver"
    assert "Branched from Default" in browser.find_element(By.ID, "parent").text
    for figure in ("parent", "this-look"):
        assert loaded_width(browser, browser.find_element(By.CSS_SELECTOR, f"#{figure} img")) == 768
    assert "short silver bob" in browser.find_element(By.ID, "changes").text
    screenshot(browser, "look")

    browser.find_element(By.LINK_TEXT, "← Mina Park").click()
    lineage = browser.find_element(By.ID, "lineage")
    child = lineage.find_element(By.CSS_SELECTOR, 'li[data-look="Default"] > ul > li[data-look="Silver"]')
    assert "short silver bob" in child.text

    click_in(look(browser, "Silver"), "Make default")
    assert "is-default" in look(browser, "Silver").get_attribute("class")
    assert (
        look(browser, "Default").find_element(By.XPATH, './/button[normalize-space()="Delete"]').is_enabled()
    )

    story = browser.find_element(By.ID, "story")
    story.send_keys("pilot")
    story.submit()
    wait(browser).until(EC.url_contains("story=pilot"))
    assert "not cast yet" in browser.find_element(By.ID, "story-note").text
    click_in(look(browser, "Default"), "Cast in this story")
    assert "Cast in pilot" in look(browser, "Default").text
    assert "cast as Default" in browser.find_element(By.ID, "story-note").text
    screenshot(browser, "actor-story")

    click_in(look(browser, "Default"), "Delete")
    assert [a.get_attribute("data-look") for a in browser.find_elements(By.CSS_SELECTOR, "article.look")] == [
        "Silver"
    ]
    assert "not cast yet" in browser.find_element(By.ID, "story-note").text

    browser.find_element(By.LINK_TEXT, "Library").click()
    card = browser.find_element(By.CSS_SELECTOR, 'a.card[data-actor="Mina Park"]')
    assert "1 look" in card.text
    assert loaded_width(browser, card.find_element(By.TAG_NAME, "img")) == 240
    screenshot(browser, "library")

    card.click()
    browser.find_element(By.ID, "delete-actor").click()
    assert "cannot be undone" in browser.find_element(By.TAG_NAME, "main").text
    screenshot(browser, "delete-actor")
    browser.find_element(By.ID, "confirm-delete").click()
    wait(browser).until(EC.url_contains("deleted="))
    assert "Mina Park was deleted." in browser.find_element(By.CSS_SELECTOR, ".notice").text
    assert not browser.find_elements(By.CSS_SELECTOR, 'a.card[data-actor="Mina Park"]')


def test_import_refuses_a_file_that_is_not_a_picture_then_takes_one(
    console: Console, browser: Chrome, tmp_path: Path
) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("not a picture")
    picture = tmp_path / "hana.png"
    drawn = Image.new("RGB", (360, 640), (236, 228, 244))
    ImageDraw.Draw(drawn).ellipse((120, 60, 240, 200), fill=(90, 60, 140))
    drawn.save(picture)

    browser.get(console.page("/import"))
    form = browser.find_element(By.ID, "import")
    form.find_element(By.NAME, "picture").send_keys(str(notes))
    form.find_element(By.TAG_NAME, "summary").click()  # the optional traits
    fill(form, display_name="Hana", mood="stern")
    submit(browser, form)

    assert "The file is not an image we can use" in error_text(browser)
    form = browser.find_element(By.ID, "import")
    assert form.find_element(By.NAME, "display_name").get_attribute("value") == "Hana"
    assert form.find_element(By.NAME, "mood").get_attribute("value") == "stern"
    screenshot(browser, "import-error")

    form.find_element(By.NAME, "picture").send_keys(str(picture))
    submit(browser, form)

    assert browser.find_element(By.ID, "actor-name").text == "Hana"
    imported = look(browser, "Imported")
    assert "imported" in imported.find_element(By.CSS_SELECTOR, ".badges").text
    assert loaded_width(browser, imported.find_element(By.TAG_NAME, "img")) == 240
    screenshot(browser, "import")


@pytest.mark.parametrize(
    ("failure", "said", "name"),
    [
        (GenerationBlocked("SAFETY"), "The image model refused to draw this.", "refused"),
        (UpstreamBusy(retry_after=7), "The image model is busy. Try again in 7 s.", "busy"),
    ],
)
def test_a_model_failure_is_said_plainly_and_the_form_keeps_what_was_typed(
    console: Console, browser: Chrome, model: ScriptedGenerator, failure: Exception, said: str, name: str
) -> None:
    browser.get(console.page("/generate"))
    form = browser.find_element(By.ID, "generate")
    fill(form, story_style="Thriller", gender="Male", outfit="long dark coat", mood="grim")
    model.failures.append(failure)
    submit(browser, form)

    assert said in error_text(browser)
    form = browser.find_element(By.ID, "generate")
    assert Select(form.find_element(By.NAME, "story_style")).first_selected_option.text == "Thriller"
    assert Select(form.find_element(By.NAME, "gender")).first_selected_option.text == "Male"
    assert form.find_element(By.NAME, "outfit").get_attribute("value") == "long dark coat"
    assert form.find_element(By.NAME, "mood").get_attribute("value") == "grim"
    assert "Traceback" not in browser.page_source
    screenshot(browser, f"model-{name}")


def test_a_missing_actor_is_not_found_in_plain_words(console: Console, browser: Chrome) -> None:
    browser.get(console.page("/actors/00000000-0000-4000-8000-000000000000"))

    assert browser.find_element(By.ID, "message").text.startswith("That actor was not found.")
    assert "Traceback" not in browser.page_source
    screenshot(browser, "not-found")


def test_the_library_filters_by_name_and_pages(console: Console, browser: Chrome) -> None:
    with grpc.insecure_channel(f"127.0.0.1:{console.grpc_port}") as channel:
        stub = casting_pb2_grpc.CastingServiceStub(channel)
        data = _png()
        for number in (1, 2, 3):
            stub.ImportActor(
                pb.ImportActorRequest(
                    parent=f"projects/{PROJECT}", image_content=data, display_name=f"Pager {number}"
                ),
                timeout=30,
            )

    browser.get(console.page("/actors"))
    search = browser.find_element(By.NAME, "name")
    search.send_keys("Pager")
    search.submit()
    wait(browser).until(EC.url_contains("name=Pager"))
    assert _names(browser) == ["Pager 3", "Pager 2", "Pager 1"]

    browser.get(console.page("/actors?name=Pager&page_size=2"))
    assert _names(browser) == ["Pager 3", "Pager 2"]
    browser.find_element(By.ID, "next-page").click()
    wait(browser).until(EC.url_contains("page_token="))
    assert _names(browser) == ["Pager 1"]
    assert not browser.find_elements(By.ID, "next-page")
    browser.find_element(By.LINK_TEXT, "← First page").click()
    assert _names(browser) == ["Pager 3", "Pager 2"]


def _names(browser: Chrome) -> list[str]:
    return [
        card.get_attribute("data-actor") or "" for card in browser.find_elements(By.CSS_SELECTOR, "a.card")
    ]


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (90, 160), (200, 190, 230)).save(out, format="PNG")
    return out.getvalue()


def test_with_tokens_a_person_signs_in_and_sees_only_their_projects(guarded_console: Console) -> None:
    # A browser of its own: both consoles are on 127.0.0.1, and cookies do not care for ports.
    with chromium() as browser:
        browser.get(guarded_console.page("/actors"))
        wait(browser).until(EC.url_contains("/login?next="))
        form = browser.find_element(By.ID, "login")
        fill(form, token="a-guess")
        submit(browser, form)
        assert error_text(browser) == "That token is not known."

        form = browser.find_element(By.ID, "login")
        fill(form, token="studio-token")
        screenshot(browser, "login")
        submit(browser, form)
        assert browser.current_url == guarded_console.page("/actors")
        assert browser.find_element(By.ID, "viewer").text == "holder-of-studio-token"
        picker = Select(browser.find_element(By.CSS_SELECTOR, ".project-picker select"))
        assert [option.text for option in picker.options] == ["pilot-season", PROJECT]
        screenshot(browser, "library-signed-in")

        picker.select_by_visible_text("pilot-season")
        browser.find_element(By.CSS_SELECTOR, ".project-picker button").click()
        wait(browser).until(EC.url_contains("/projects/pilot-season/actors"))

        browser.get(f"{guarded_console.url}/projects/another-studio/actors")
        assert browser.find_element(By.ID, "message").text == "You may not open this project."
        screenshot(browser, "refused-project")

        sign_out = browser.find_element(By.ID, "sign-out")
        sign_out.click()
        until_replaced(browser, sign_out, 15)
        assert "/login" in browser.current_url
        browser.get(guarded_console.page("/actors"))
        wait(browser).until(EC.url_contains("/login?next="))


def test_candidates_to_pick_from_regenerate_and_a_failed_look_warned_everywhere(
    console: Console, browser: Chrome, model: ScriptedGenerator
) -> None:
    with grpc.insecure_channel(f"127.0.0.1:{console.grpc_port}") as channel:
        stub = casting_pb2_grpc.CastingServiceStub(channel)
        sheet = stub.GenerateSheet(
            pb.GenerateSheetRequest(
                parent=f"projects/{PROJECT}",
                story_style="romance",
                image_style="webtoon",
                traits=pb.Traits(gender=pb.GENDER_FEMALE, hair_traits="short black bob"),
            )
        )
        actor = stub.SaveActor(
            pb.SaveActorRequest(parent=f"projects/{PROJECT}", sheet=sheet.name, display_name="Hana Cho")
        )
    actor_page = console.page(f"/actors/{actor.name.rsplit('/', 1)[1]}")

    # The model drifts: every drawing is someone else, so both candidates fail verification
    # (each after CASTING_MAX_DRAWS drawings) and say why.
    model.drifting = True
    browser.get(f"{actor_page}/branch")
    branch = browser.find_element(By.ID, "branch-form")
    fill(branch, outfit="red winter coat", candidate_count="2 to choose from")
    submit(browser, branch)
    drifted_page = browser.current_url
    candidates = browser.find_elements(By.CSS_SELECTOR, "article.candidate")
    assert len(candidates) == 2
    for n in (1, 2):
        warning = browser.find_element(By.ID, f"verdict-{n}")
        assert warning.get_attribute("role") == "alert"
        assert "Failed verification" in warning.text and "not surely the same person" in warning.text
    assert [b.text for b in browser.find_elements(By.CSS_SELECTOR, "article.candidate button")] == [
        "Save anyway",
        "Save anyway",
    ]
    screenshot(browser, "candidates-failed")

    # Regenerate: the same request under a new request id, drawn again; now they pass.
    model.drifting = False
    submit(browser, browser.find_element(By.ID, "regenerate"))
    assert browser.current_url != drifted_page
    for n in (1, 2):
        assert browser.find_element(By.ID, f"verdict-{n}").text.startswith("Verified · identity")
    screenshot(browser, "candidates")

    # Pick the second one: it becomes the look, as drawn.
    picked = browser.find_element(By.CSS_SELECTOR, 'article.candidate[data-candidate="2"]')
    picked_image = picked.find_element(By.CSS_SELECTOR, "img.sheet").get_attribute("src")
    fill(picked.find_element(By.TAG_NAME, "form"), display_name="Winter")
    click_in(picked, "Use this look")
    assert browser.find_element(By.ID, "look-name").text == "Winter"
    assert browser.find_element(By.CSS_SELECTOR, "#this-look img").get_attribute("src") == picked_image
    assert browser.find_element(By.ID, "verdict").text.startswith("Verified")

    # Save a drifted one anyway: it carries its warning on every page that shows it.
    browser.get(drifted_page)
    drifted = browser.find_element(By.CSS_SELECTOR, 'article.candidate[data-candidate="1"]')
    fill(drifted.find_element(By.TAG_NAME, "form"), display_name="Drifted")
    click_in(drifted, "Save anyway")
    warning = browser.find_element(By.ID, "verdict")
    assert warning.get_attribute("role") == "alert" and "Failed verification" in warning.text
    screenshot(browser, "look-failed")
    drifted_look = browser.current_url.split(f"/projects/{PROJECT}/", 1)[1]
    with grpc.insecure_channel(f"127.0.0.1:{console.grpc_port}") as channel:
        casting_pb2_grpc.CastingServiceStub(channel).CastVariant(
            pb.CastVariantRequest(
                variant=f"projects/{PROJECT}/{drifted_look}", story=f"projects/{PROJECT}/stories/drift-arc"
            )
        )
    browser.get(console.page("/stories/drift-arc"))
    cast = browser.find_element(By.CSS_SELECTOR, 'article.look[data-actor="Hana Cho"]')
    assert "Failed verification" in cast.text

    browser.get(actor_page)
    assert "Failed verification" in look(browser, "Drifted").find_element(By.CSS_SELECTOR, ".badges").text
    assert "Failed verification" not in look(browser, "Winter").text
    browser.get(f"{actor_page}/branch")
    assert "Failed verification" in browser.find_element(By.ID, "branch-form").text
    browser.get(console.page("/actors"))
    card = browser.find_element(By.CSS_SELECTOR, 'a.card[data-actor="Hana Cho"]')
    assert "1 look failed verification" in card.text
    browser.find_element(By.ID, "only-failed").click()
    browser.find_element(By.ID, "only-failed").submit()
    wait(browser).until(EC.url_contains("failed=1"))
    shown = [c.get_attribute("data-actor") for c in browser.find_elements(By.CSS_SELECTOR, "a.card")]
    assert "Hana Cho" in shown and all(
        "failed verification" in c.text for c in browser.find_elements(By.CSS_SELECTOR, "a.card")
    )
    screenshot(browser, "library-failed")
