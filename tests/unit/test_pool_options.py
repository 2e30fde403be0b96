"""serve's --db-pool-size and --db-pool-timeout (issue 15): parsed and checked by the command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from strongroom.cli import build_parser
from strongroom.config import Config


def test_serve_takes_the_pool_options_and_admin_commands_keep_a_pool_of_two() -> None:
    args = build_parser().parse_args(["serve", "--db-pool-size", "8", "--db-pool-timeout", "0.25"])
    assert (args.db_pool_size, args.db_pool_timeout) == (8, 0.25)
    defaults = build_parser().parse_args(["serve"])
    assert (defaults.db_pool_size, defaults.db_pool_timeout) == (4, 5.0)
    assert not hasattr(build_parser().parse_args(["user", "list"]), "db_pool_size")
    assert (Config(Path("d")).db_pool_size, Config(Path("d")).db_pool_timeout) == (2, 5.0)


@pytest.mark.parametrize("option, value", [("--db-pool-size", "0"), ("--db-pool-size", "two"),
                                           ("--db-pool-timeout", "0"), ("--db-pool-timeout", "inf"),
                                           ("--db-pool-timeout", "-1")])
def test_bad_pool_options_are_usage_errors(option: str, value: str,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(["serve", option, value])
    assert exit_.value.code == 2
    assert f"argument {option}: expected" in capsys.readouterr().err
