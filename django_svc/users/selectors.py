"""Everything that only reads users."""

from django.db.models import Q, QuerySet

from users.models import User


def user_list(*, search: str | None = None, is_active: bool | None = None) -> QuerySet[User]:
    users = User.objects.order_by("id")
    if search:
        users = users.filter(Q(name__icontains=search) | Q(email__icontains=search))
    if is_active is not None:
        users = users.filter(is_active=is_active)
    return users


def is_last_active_admin(*, user: User) -> bool:
    """Whether no other active admin would be left without this user."""
    if not (user.is_admin and user.is_active):
        return False
    others = User.objects.filter(is_admin=True, is_active=True).exclude(pk=user.pk)
    return not others.exists()


def user_get(*, user_id: int) -> User | None:
    return User.objects.filter(pk=user_id).first()
