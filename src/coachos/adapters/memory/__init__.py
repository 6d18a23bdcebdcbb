"""In-memory fakes of every port, for tests, examples and trying the library without a database."""

from coachos.adapters.memory._onboarding import FakeSteps
from coachos.adapters.memory._store import MemoryStore, MemoryUnitOfWork
from coachos.adapters.memory._tasks import ImmediateTasks

__all__ = ["FakeSteps", "ImmediateTasks", "MemoryStore", "MemoryUnitOfWork"]
