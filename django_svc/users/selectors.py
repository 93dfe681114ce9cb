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


def user_get(*, user_id: int) -> User | None:
    return User.objects.filter(pk=user_id).first()
