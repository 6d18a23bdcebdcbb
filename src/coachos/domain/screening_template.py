"""The health-screening template Coach OS ships: our own plain wording, which a coach may edit.

It is written for Coach OS and is not the PAR-Q+ (whose text is copyrighted). Every question is a
required yes/no; a form made from it is marked as a screening, so any "yes" asks for clearance.
"""

from __future__ import annotations

from coachos.domain.forms import Question, QuestionKind

NAME = "Health screening"

_QUESTIONS = (
    ("heart", "Has a doctor ever told you that you have a heart condition or high blood pressure?"),
    ("chest_pain", "Do you get pain or tightness in your chest, at rest or when you are active?"),
    ("dizziness", "In the past year, have you felt dizzy, lost your balance or fainted?"),
    ("chronic", "Do you live with a long-term medical condition (for example diabetes, asthma or epilepsy)?"),
    ("medication", "Are you currently taking any prescribed medication?"),
    ("joints", "Do you have a bone, joint or back problem that could get worse with exercise?"),
    ("pregnancy", "Are you pregnant, or have you given birth in the last six months?"),
    ("doctor_advice", "Has a doctor advised you to limit or avoid physical activity?"),
)


def health_screening() -> tuple[Question, ...]:
    """The template's questions."""
    return tuple(Question(key, label, QuestionKind.YES_NO, required=True) for key, label in _QUESTIONS)
