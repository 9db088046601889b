"""ALMA's analysis step (zksha/alma core/meta_agent.py analyze_memo_structure, read_memo_info;
core/meta_agent_prompt.py build_analysis_prompt), for tasks whose evaluations show episodes
(the memory tasks' `episodes` metric, one per case).

Before a child is written, the model reads the parent's code, a sample of its episodes (up to
3 drawn at random per fixed reward bin, with their full steps and what the memory retrieved,
and up to 3 of the memory's errors), its score, and the suggestion example: the analysis that
produced the parent, the code it was made from and the score change it caused. It answers
with ALMA's JSON: what it learned from the example, a label for each retrieved item
(Useful / Potentially Useful / Irrelevant / Empty/BadFormat), content and structure issues,
and prioritised suggested changes. The proposal prompt then gets, as ALMA's code generation
does, the labels and the suggested changes. The analysis call is archived with the child
(purpose `analysis`), which is how the child's own analysis later finds its suggestion."""

import json
import random
from typing import Any

from archive import ArchiveReader, Program
from discovery.models.base import Messages
from discovery.search.edits import block_text
from prompts import render

PURPOSE = "analysis"
PER_BIN = 3
"""ALMA's sample_size: episodes drawn per reward bin, and errors drawn."""
REWARD_BINS = ((0.0, 0.33), (0.33, 0.66), (0.66, 1.0))
"""ALMA's fixed reward bins (evals/launch.py)."""
MAX_FALLBACK_CHARS = 3000
"""An answer that is not ALMA's JSON goes into the proposal prompt as text, this long at most."""

SCHEMA: dict[str, Any] = {
    "learned_from_suggestion_example": {
        "type": "string",
        "description": "Findings derived from the provided suggestion example and improve_score. "
                       "Bullet list of concrete factors (patterns) that made the suggestion "
                       "succeed or fail, and principles to adopt when making future suggestions."},
    "trajectory_score_assessment": {
        "type": "array",
        "description": "Analysis of each retrieved memory item, based on the trajectories "
                       "sampled and the benchmark score.",
        "items": {"type": "object", "properties": {
            "label": {"type": "string",
                      "enum": ["Useful", "Potentially Useful", "Irrelevant", "Empty/BadFormat"],
                      "description": "The memory item's relevance: whether the retrieved "
                                     "content actually helps the agent."},
            "how_it_can_help": {"type": "string",
                                "description": "If Useful/Potentially Useful: how it could "
                                               "guide actions (subgoal, trap, object use...). If "
                                               "Irrelevant/Empty: why (wrong keying, "
                                               "over-specific, missing summary, formatting)."}},
            "required": ["label", "how_it_can_help"]}},
    "content_quality_issues": {
        "type": "string",
        "description": "Content-level problems (duplicates, empty entries, serialization "
                       "issues...) and why they harm retrieval or the agent's planning."},
    "structure_and_coherence": {
        "type": "string",
        "description": "Analysis of the memory's parts, keying, and task-awareness: which parts "
                       "generalize, which are overfitted."},
    "suggested_changes": {
        "type": "array",
        "description": "Based on all the analysis above, concrete changes to apply to the "
                       "current memory code.",
        "items": {"type": "object", "properties": {
            "priority": {"type": "string", "enum": ["High", "Medium", "Low"],
                         "description": "How urgent/impactful this is."},
            "what": {"type": "string", "description": "Precisely what to change."},
            "why": {"type": "string", "description": "Why this addresses the problem "
                                                     "(link to observations/principles)."}},
            "required": ["priority", "what", "why"]}},
}
FOR_PROPOSAL = ("trajectory_score_assessment", "suggested_changes")
"""What ALMA's code generation reads of the analysis (build_generate_new_code_prompt)."""


def examples(metrics: dict[str, Any], seed: int) -> list[dict[str, Any]]:
    """ALMA's trajectory examples of one evaluation: the cases' samples (each case's
    `episodes` metric, JSON lines) pooled and drawn again, up to PER_BIN a fixed reward bin and
    PER_BIN errors, as ALMA samples over the whole evaluation rather than per case; seeded, so
    the same parent shows the same."""
    shown = [json.loads(line) for key, value in sorted(metrics.items())
             if key.endswith("episodes") and isinstance(value, str)
             for line in value.splitlines() if line.strip()]
    rng = random.Random(seed)
    drawn = []
    for low, high in REWARD_BINS:
        members = [e for e in shown if "error_info" not in e and (
            low <= e.get("final_reward", 0) < high or (high == 1.0 and e["final_reward"] == 1.0))]
        drawn += rng.sample(members, min(PER_BIN, len(members)))
    errors = [e for e in shown if "error_info" in e]
    return drawn + rng.sample(errors, min(PER_BIN, len(errors)))


def suggestion(reader: ArchiveReader, program: Program) -> dict[str, Any] | str | None:
    """The analysis that produced `program` (its archived analysis call's answer, as ALMA's
    JSON where it parses), or None when it was made without one."""
    answers = [c.raw_response for c in reader.model_calls(program=program.id)
               if c.purpose == PURPOSE and c.error is None and c.raw_response]
    return (parse(answers[-1]) or answers[-1]) if answers else None


def improve_example(reader: ArchiveReader, program: Program) -> dict[str, Any] | None:
    """ALMA's improve_example (read_memo_info): the code `program` was made from, the
    suggestion it was made with, and the score change it caused (its score minus its
    parent's); None for a program with no scored parent or made without an analysis."""
    if program.parent_id is None or program.score is None:
        return None
    parent = reader.program(program.parent_id)
    advice = suggestion(reader, program)
    if parent is None or parent.score is None or advice is None:
        return None
    return {"source_code": block_text(parent.code), "suggestion": advice,
            "improve_score": program.score - parent.score}


def messages(reader: ArchiveReader, task: str, parent: Program,
             metrics: dict[str, Any]) -> Messages | None:
    """ALMA's analysis prompt for `parent` (build_analysis_prompt), or None when its final
    evaluation showed no episodes (a task without them, or a parent that failed)."""
    shown = examples(metrics, parent.id)
    if not shown:
        return None
    example = improve_example(reader, parent)
    return [{"role": "system", "content": render(
                "analysis/system.md", task=task, schema=json.dumps(SCHEMA, indent=2))},
            {"role": "user", "content": render(
                "analysis/user.md", code=block_text(parent.code),
                examples=json.dumps(shown, indent=2, ensure_ascii=False),
                score=f"{parent.score:.6g}" if parent.score is not None else "none",
                example=render("analysis/example.md", example=json.dumps(
                    example, indent=1, ensure_ascii=False)) if example else "")}]


def parse(text: str) -> dict[str, Any] | None:
    """The answer as ALMA's JSON object (fenced or bare, the schema's keys kept), or None
    when it is not one."""
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end < start:
        return None
    try:
        value = json.loads(text[start:end + 1])
    except json.JSONDecodeError:
        return None
    kept = {k: v for k, v in value.items() if k in SCHEMA} if isinstance(value, dict) else {}
    return kept or None


def for_proposal(text: str) -> str | None:
    """What the proposal prompt shows of the analysis: as ALMA's code generation, its labels
    of the retrieved items and its suggested changes (JSON); an answer that is not ALMA's JSON
    as text, cut short."""
    value = parse(text)
    if value is not None and any(k in value for k in FOR_PROPOSAL):
        return json.dumps({k: value[k] for k in FOR_PROPOSAL if k in value}, indent=2,
                          ensure_ascii=False)
    return text.strip()[:MAX_FALLBACK_CHARS] or None
