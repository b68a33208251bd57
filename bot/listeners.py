"""Which listener handles what: the bot's one registration table.

Listeners live by subject (bot/questions.py, bot/reactions.py, bot/commands.py)
as named top-level functions; cross-cutting checks are Bolt middleware
(bot/middleware.py). A `message` event goes to the first listener whose matcher
accepts it; the last one acks everything else.
"""

from __future__ import annotations

from slack_bolt import App

from bot import buttons, commands, home, questions, reactions, shortcuts, specs
from bot.deps import Deps
from bot.middleware import dedupe_events, ignore_bots, provide_deps, require_allowed_channel
from specbot.slack import views


def register(app: App, deps: Deps) -> None:
    app.use(provide_deps(deps))
    app.use(ignore_bots)

    app.event("app_mention", middleware=[dedupe_events, require_allowed_channel])(questions.on_mention)
    app.event("message", matchers=[reactions.is_correction_reply], middleware=[dedupe_events])(
        reactions.on_correction_reply
    )
    app.event("message", matchers=[specs.is_dm_file_share], middleware=[dedupe_events])(specs.on_dm_file_share)
    app.event("message", matchers=[questions.is_direct_message], middleware=[dedupe_events, require_allowed_channel])(
        questions.on_direct_message
    )
    app.event("message")(reactions.ignore_message)
    app.event("reaction_added", middleware=[dedupe_events])(reactions.on_reaction_added)
    app.event("reaction_removed", middleware=[dedupe_events])(reactions.on_reaction_removed)
    app.command("/spec", middleware=[require_allowed_channel])(commands.on_spec)
    app.event("app_home_opened", middleware=[dedupe_events])(home.on_home_opened)
    # Buttons under answers, "Which is better?", the correction modal, the Home tab's reviews.
    app.action(views.VOTE_UP)(buttons.on_vote)
    app.action(views.VOTE_DOWN)(buttons.on_vote)
    app.action(views.SOURCES)(buttons.on_sources)
    app.action(views.TRY_ANOTHER)(buttons.on_try_another)
    app.action(views.CORRECT)(buttons.on_correct)
    for choice in (views.AB_A, views.AB_B, views.AB_NEITHER):
        app.action(choice)(buttons.on_choice)
    app.view(views.CORRECTION_CALLBACK)(buttons.on_correction_submitted)
    app.action(views.REVIEW_APPROVE)(home.on_review)
    app.action(views.REVIEW_REJECT)(home.on_review)
    app.shortcut(views.SHORTCUT_CALLBACK)(shortcuts.on_ask_shortcut)
