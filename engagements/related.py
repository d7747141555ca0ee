"""Links other apps add to the engagements app's pages, without engagements importing them.

A balancing review shows balancing runs, but runs live in the territories app, which depends on
engagements and not the other way round. So the meeting page asks the registered providers
what they link to a meeting; an app registers its provider in ``AppConfig.ready()``::

    from engagements import related

    def runs_shown(meeting) -> list[related.LinkGroup]:
        # ONE query; an empty list when there is nothing to say about this meeting
        ...

    related.provide_meeting_links(runs_shown)

Providers answer in one query each, so the meeting page's query count stays fixed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from engagements.models import Meeting


@dataclass(frozen=True)
class Link:
    title: str
    url: str
    note: str = ""


@dataclass(frozen=True)
class LinkGroup:
    """One block of links on a page: a heading, its links, and what to say when it has none."""

    key: str  # stable id for the page (``id="related-<key>"``)
    heading: str
    links: tuple[Link, ...] = ()
    empty: str = ""


MeetingLinksProvider = Callable[[Meeting], list[LinkGroup]]
_meeting_providers: list[MeetingLinksProvider] = []


def provide_meeting_links(provider: MeetingLinksProvider) -> None:
    if provider not in _meeting_providers:
        _meeting_providers.append(provider)


def meeting_links(meeting: Meeting) -> list[LinkGroup]:
    groups: list[LinkGroup] = []
    for provider in _meeting_providers:
        groups.extend(provider(meeting))
    return groups
