"""The suite's own rule: no test reaches the user's real data, log, cache or config folders."""

from pathlib import Path


def test_the_users_folders_are_out_of_reach_of_every_test():
    from desktop_app.paths import cache_dir, data_dir, log_dir

    home = Path.home()
    for folder in (data_dir(), log_dir(), cache_dir()):
        assert "hashlens-tests-" in str(folder), folder
        assert not folder.is_relative_to(home / ".local") and not folder.is_relative_to(home / ".cache")
