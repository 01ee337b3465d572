"""``peacewatch check`` for the processors: the watchlist, the baseline and the state file."""

from __future__ import annotations

import os

from peacewatch.errors import ConfigError, ProcessorError
from peacewatch.settings import Settings
from processors.baseline import load_baseline
from processors.classify import IssueClassifier
from processors.stage import baseline_path, load_model, watchlist_path
from processors.watchlist import load_watchlist


def check(settings: Settings) -> int:
    """One line per check; returns the number that failed."""
    failures = 0
    path = watchlist_path(settings)
    try:
        watchlist = load_watchlist(path)
        IssueClassifier(watchlist)
        print(f"processors: watchlist ok ({len(watchlist.issues)} issues, {path})")
    except ConfigError as exc:
        print(f"processors: watchlist FAILED: {exc}")
        return 1
    try:
        model = load_model(settings)
        IssueClassifier(watchlist, model)
    except ProcessorError as exc:
        print(f"processors: model FAILED: {exc}")
        failures += 1
    else:
        if model is None:
            print("processors: model none (the watchlist rules alone classify)")
        else:
            unknown = sorted(set(model.issue_ids) - set(watchlist.issue_ids))
            untrained = sorted(set(watchlist.issue_ids) - set(model.issue_ids))
            print(f"processors: model ok ({len(model.issue_ids)} issues learned"
                  + (f"; rules alone for {', '.join(untrained)}" if untrained else "")
                  + (f"; not in the watchlist, ignored: {', '.join(unknown)}" if unknown else "")
                  + ")")
    path = baseline_path(settings)
    if settings.processors.baseline is None and not path.exists():
        print(f"processors: baseline none ({path} absent; nothing is known in advance)")
    else:
        try:
            baseline = load_baseline(path, watchlist.issue_ids)
            print(f"processors: baseline ok ({len(baseline.known)} known states, {path})")
        except ConfigError as exc:
            print(f"processors: baseline FAILED: {exc}")
            failures += 1
    state = settings.path(settings.processors.state_path)
    folder = state.parent if state.parent.exists() else settings.data_dir
    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if os.access(probe, os.W_OK):
        print(f"processors: state ok ({state})")
    else:
        print(f"processors: state FAILED: {probe} is not writable (state {state})")
        failures += 1
    return failures
