"""All fedisora table models.  Import models from here; ``metadata`` is the
schema alembic compares migrations against."""

from fedisora.db.models.activities import Activity, ActivityState
from fedisora.db.models.attestations import Attestation, ModerationAuditEntry, StatusList
from fedisora.db.models.actors import (
    Actor,
    ActorType,
    Domain,
    Key,
    KeyAlgorithm,
    KeyPurpose,
    User,
    username_key,
)
from fedisora.db.models.base import NAMING_CONVENTION, Base, UTCDateTime, metadata, utcnow
from fedisora.db.models.deliveries import DeliveryFailure
from fedisora.db.models.client import (
    Bookmark,
    IdempotencyKey,
    Marker,
    Mute,
    Notification,
    NotificationType,
    StatusEdit,
    StatusTag,
)
from fedisora.db.models.follows import Follow, FollowState
from fedisora.db.models.interactions import Block, Like, Mention
from fedisora.db.models.jobs import FINISHED_JOB_STATES, Job, JobState
from fedisora.db.models.media import MediaAttachment, MediaState, MediaType
from fedisora.db.models.oauth import OAuthApplication, OAuthAuthorizationCode, OAuthToken
from fedisora.db.models.statuses import Status, Visibility
from fedisora.db.models.verifications import AttestationVerification, StatusListCache

__all__ = [
    "NAMING_CONVENTION",
    "metadata",
    "Base",
    "UTCDateTime",
    "utcnow",
    "Domain",
    "Actor",
    "ActorType",
    "User",
    "Key",
    "KeyAlgorithm",
    "KeyPurpose",
    "username_key",
    "Follow",
    "Notification",
    "NotificationType",
    "Bookmark",
    "Mute",
    "Marker",
    "StatusEdit",
    "StatusTag",
    "IdempotencyKey",
    "Like",
    "Block",
    "Mention",
    "FollowState",
    "Status",
    "Visibility",
    "Activity",
    "ActivityState",
    "MediaAttachment",
    "MediaType",
    "MediaState",
    "Job",
    "JobState",
    "DeliveryFailure",
    "FINISHED_JOB_STATES",
    "OAuthApplication",
    "OAuthAuthorizationCode",
    "OAuthToken",
    "Attestation",
    "StatusList",
    "ModerationAuditEntry",
    "AttestationVerification",
    "StatusListCache",
]
