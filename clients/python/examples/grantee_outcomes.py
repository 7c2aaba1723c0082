#!/usr/bin/env python3
"""A grantee's script: list my grants, and upload a reporting period's outcomes from a CSV file.

Copy it and adapt it: the calls are the API's own (``ListGrants``, ``UploadOutcomes``), through
the generated stubs of the ``tipgrants-client`` package. Install that first, from a checkout of
the repository::

    python3 -m venv .venv && .venv/bin/pip install ./clients/python

then, with the server's address and your organisation's token::

    export TIPGRANTS_SERVER=http://127.0.0.1:50051 TIPGRANTS_TOKEN=tg_...
    .venv/bin/python grantee_outcomes.py grants                     # my active grants
    .venv/bin/python grantee_outcomes.py grants --state CLOSED
    .venv/bin/python grantee_outcomes.py upload --report grants/.../outcomeReports/... --file outcomes.csv

The CSV file has the columns of ``tipgrants outcomes template`` (docs/outcomes-csv.md), any
subset in any order; ``kind`` is required. The whole file goes in one transaction, or nothing
does; running the same upload again adds nothing twice (the request id is a hash of the report
and the file): it then says "already uploaded". Exit status: 0 done, 1 refused (each bad row printed as ``line L: column:
message``), 2 bad usage.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import os
import re
import sys
from pathlib import Path
from typing import Dict, Iterator, List, Tuple

import grpc

from tipgrants.v1 import (
    grant_pb2,
    grant_service_pb2,
    grant_service_pb2_grpc,
    outcome_report_pb2,
    outcome_report_service_pb2,
    outcome_report_service_pb2_grpc,
    project_pb2,  # OutcomeKind lives here, with the indicators that count outcomes
)
from tipgrants_client import connect, error_reason, field_violations, short_enum_name

# Columns of the CSV file that are numbers, and where each goes in an Outcome.
OFFICIALS = ["police", "prosecutors", "judges", "labour_inspectors", "social_workers", "other"]
VICTIMS = ["female", "male", "other_sex", "children", "adults"]
TEXT = ["country_code", "outcome_date", "description", "evidence_uri", "indicator", "milestone"]


class Refused(Exception):
    """The file cannot be sent: a list of ``line L: column: message``."""

    def __init__(self, problems: List[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def list_my_grants(channel: grpc.Channel, state: str) -> None:
    """Prints the caller's grants in ``state`` (a grantee's token sees its own grants only)."""
    grants = grant_service_pb2_grpc.GrantServiceStub(channel)
    # Filters take the short name (ACTIVE); messages carry the full constant (GRANT_STATE_ACTIVE).
    state_value = grant_pb2.GrantState.Value(f"GRANT_STATE_{state.upper()}")
    request = grant_service_pb2.ListGrantsRequest(
        page_size=100, filter=f"state = {short_enum_name(grant_pb2.GrantState, state_value)}"
    )
    count = 0
    while True:
        page = grants.ListGrants(request)
        for grant in page.grants:
            count += 1
            dollars = grant.obligated_amount / 100
            print(
                f"{grant.award_number}  {short_enum_name(grant_pb2.GrantState, grant.state):<10} "
                f"{grant.start_date}..{grant.end_date}  ${dollars:,.2f}  {grant.title}  ({grant.name})"
            )
        if not page.next_page_token:
            break
        request.page_token = page.next_page_token
    print(f"{count} grant(s) in state {state.upper()}")


def whole_number(text: str, line: int, column: str) -> int:
    if not re.fullmatch(r"-?\d+", text):
        raise Refused([f"line {line}: {column}: {text!r} is not a whole number"])
    return int(text)


def outcome_of(row: Dict[str, str], line: int) -> outcome_report_pb2.Outcome:
    """One CSV row as an Outcome; a column left out or empty is no value."""
    values = {key.strip().lower(): (value or "").strip() for key, value in row.items() if key}
    kind = values.get("kind", "").upper()
    if not kind:
        raise Refused([f"line {line}: kind: is required"])
    full_kind = kind if kind.startswith("OUTCOME_KIND_") else f"OUTCOME_KIND_{kind}"
    if full_kind not in project_pb2.OutcomeKind.keys():
        raise Refused([f"line {line}: kind: {kind} is not an outcome kind"])
    outcome = outcome_report_pb2.Outcome(kind=project_pb2.OutcomeKind.Value(full_kind))
    for column in TEXT:
        setattr(outcome, column, values.get(column, ""))
    if values.get("quantity"):
        outcome.quantity = whole_number(values["quantity"], line, "quantity")
    for part in OFFICIALS:
        if values.get(f"officials_{part}"):
            number = whole_number(values[f"officials_{part}"], line, f"officials_{part}")
            setattr(outcome.officials_trained, part, number)
    for part in VICTIMS:
        if values.get(f"victims_{part}"):
            setattr(outcome.victims, part, whole_number(values[f"victims_{part}"], line, f"victims_{part}"))
    outcome.first_for_country = values.get("first_for_country", "").lower() in ("true", "yes", "1")
    return outcome


def read_outcomes(data: str) -> Tuple[List[outcome_report_pb2.Outcome], List[int]]:
    """The outcomes of the file and the line each starts on; every bad row is reported at once."""
    reader = csv.DictReader(io.StringIO(data.lstrip("\ufeff")))
    if not reader.fieldnames:  # reads the header line
        raise Refused(["the file is empty: the first line names the columns"])
    outcomes, lines, problems = [], [], []
    line = reader.line_num + 1
    for row in reader:
        try:
            outcomes.append(outcome_of(row, line))
            lines.append(line)
        except Refused as refused:
            problems.extend(refused.problems)
        line = reader.line_num + 1
    if problems:
        raise Refused(problems)
    if not outcomes:
        raise Refused(["the file has no outcome rows"])
    return outcomes, lines


def upload(channel: grpc.Channel, report: str, path: Path, request_id: str) -> None:
    """Streams the file's outcomes into ``report`` (client streaming: a header, then one outcome
    per message) and prints what was added, or each refused row by its line."""
    data = path.read_text(encoding="utf-8")
    outcomes, lines = read_outcomes(data)
    if not request_id:
        request_id = "py-" + hashlib.sha256(f"{report}\n{data}".encode()).hexdigest()[:40]

    def messages() -> Iterator[outcome_report_service_pb2.UploadOutcomesRequest]:
        header = outcome_report_service_pb2.UploadOutcomesHeader(outcome_report=report, request_id=request_id)
        yield outcome_report_service_pb2.UploadOutcomesRequest(header=header)
        for outcome in outcomes:
            yield outcome_report_service_pb2.UploadOutcomesRequest(outcome=outcome)

    stub = outcome_report_service_pb2_grpc.OutcomeReportServiceStub(channel)
    # A new upload moves the report's etag; a replay of an earlier one (same request id) writes
    # nothing and leaves it as it was: that is how "already uploaded" is told from "added".
    before = stub.GetOutcomeReport(outcome_report_service_pb2.GetOutcomeReportRequest(name=report)).etag
    try:
        answer = stub.UploadOutcomes(messages())
    except grpc.RpcError as error:
        violations = field_violations(error)
        if not violations:
            raise Refused([f"{error.code().name} ({error_reason(error)}): {error.details()}"]) from None
        problems = []
        for violation in violations:
            # `outcomes[N].field` is the N-th outcome sent, from 0: map it back to its line.
            found = re.fullmatch(r"outcomes\[(\d+)\]\.?(.*)", violation.field)
            if found and int(found.group(1)) < len(lines):
                line, field = lines[int(found.group(1))], found.group(2) or "row"
                problems.append(f"line {line}: {field}: {violation.description}")
            else:
                problems.append(f"{violation.field}: {violation.description}")
        raise Refused(problems) from None
    after = stub.GetOutcomeReport(outcome_report_service_pb2.GetOutcomeReportRequest(name=report)).etag
    if after == before:
        print(
            f"already uploaded: {answer.outcome_report} got these {answer.outcome_count} outcomes "
            f"from an earlier run of this upload (request id {request_id}); nothing was added again"
        )
        return
    print(
        f"added {answer.outcome_count} outcomes to {answer.outcome_report}; "
        f"{len(answer.milestones)} milestone(s) linked"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", default=os.environ.get("TIPGRANTS_SERVER", "http://127.0.0.1:50051"))
    parser.add_argument("--token", default=os.environ.get("TIPGRANTS_TOKEN", ""), help="prefer TIPGRANTS_TOKEN")
    commands = parser.add_subparsers(dest="command", required=True)
    grants = commands.add_parser("grants", help="list my grants")
    states = [short_enum_name(grant_pb2.GrantState, value) for value in grant_pb2.GrantState.values() if value != 0]
    grants.add_argument(
        "--state",
        default="ACTIVE",
        type=str.upper,
        choices=states,
        help="one of " + ", ".join(states) + " (any case)",
    )
    uploads = commands.add_parser("upload", help="upload outcomes from a CSV file into a draft report")
    uploads.add_argument("--report", required=True, help="grants/.../projects/.../outcomeReports/...")
    uploads.add_argument("--file", required=True, type=Path)
    uploads.add_argument("--request-id", default="", help="default: a hash of the report and the file")
    arguments = parser.parse_args()
    if not arguments.token:
        parser.error("set TIPGRANTS_TOKEN (or --token)")

    with connect(arguments.server, arguments.token) as channel:
        try:
            if arguments.command == "grants":
                list_my_grants(channel, arguments.state)
            else:
                upload(channel, arguments.report, arguments.file, arguments.request_id)
        except Refused as refused:
            print(f"refused, nothing was added:\n{refused}", file=sys.stderr)
            return 1
        except grpc.RpcError as error:
            print(f"{error.code().name} ({error_reason(error)}): {error.details()}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
