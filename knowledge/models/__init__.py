"""The database schema: the catalog, sales calls, snapshots and the bot's runtime state."""

from knowledge.models.calls import Account, Contact, Meeting, TranscriptSegment
from knowledge.models.catalog import (
    AddOn,
    ComplianceItem,
    Faq,
    Feature,
    Integration,
    Plan,
    PlanFeature,
    PlanLimit,
    Product,
)
from knowledge.models.quality import QualityExchange, QualitySignal
from knowledge.models.runtime import (
    InboxEvent,
    KnowledgeRevision,
    ResponseCacheEntry,
    RolloutSetting,
    SchedulerLease,
    ThreadTurn,
)
from knowledge.models.sync import AirtableRecord, AirtableSyncState
from knowledge.models.snapshots import ProductSnapshot, SnapshotAlias, SnapshotChange, SnapshotState

__all__ = [
    "AirtableRecord",
    "AirtableSyncState",
    "Account",
    "AddOn",
    "ComplianceItem",
    "Contact",
    "Faq",
    "Feature",
    "InboxEvent",
    "Integration",
    "KnowledgeRevision",
    "Meeting",
    "Plan",
    "PlanFeature",
    "PlanLimit",
    "Product",
    "ProductSnapshot",
    "QualityExchange",
    "QualitySignal",
    "ResponseCacheEntry",
    "RolloutSetting",
    "SchedulerLease",
    "SnapshotAlias",
    "SnapshotChange",
    "SnapshotState",
    "ThreadTurn",
    "TranscriptSegment",
]
