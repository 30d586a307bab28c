"""What accounts announces; the layers above decide what follows (close sockets, end tokens)."""

from django.dispatch import Signal

# A user's role changed (set_role): args user_id. Open sockets were let in with the old rights.
role_changed = Signal()
# A user was disabled (accounts.users.disable): args user_id. Their API tokens must end.
user_disabled = Signal()
