"""Access-control records in the SQLite catalog: policies attached to users, and object ACLs.

User policies are keyed by the user's id, not its name, so that a user removed and made
again under the same name does not inherit the old user's permissions. Object ACLs are
keyed by version id (or by an upload's pending key until the upload completes); a row
whose version is gone is never read again, as version ids are never reused.
"""

from __future__ import annotations

from strongroom.catalog.sqlite_db import SqliteDatabase


class SqliteAccess(SqliteDatabase):
    # --- policies attached to users ---

    def put_user_policy(self, user_id: str, name: str, document: str) -> None:
        with self._write() as conn:
            conn.execute(
                "INSERT INTO user_policies (user_id, name, document) VALUES (?, ?, ?) "
                "ON CONFLICT (user_id, name) DO UPDATE SET document = excluded.document",
                (user_id, name, document),
            )

    def delete_user_policy(self, user_id: str, name: str) -> bool:
        with self._write() as conn:
            cur = conn.execute("DELETE FROM user_policies WHERE user_id = ? AND name = ?", (user_id, name))
            return cur.rowcount > 0

    def list_user_policies(self, user_id: str) -> list[tuple[str, str]]:
        rows = self._conn().execute(
            "SELECT name, document FROM user_policies WHERE user_id = ? ORDER BY name", (user_id,))
        return [(name, document) for name, document in rows]

    # --- object ACLs ---

    def get_object_acl(self, acl_id: str) -> str | None:
        row = self._conn().execute("SELECT document FROM object_acls WHERE id = ?", (acl_id,)).fetchone()
        return None if row is None else row[0]

    def put_object_acl(self, acl_id: str, document: str | None) -> None:
        with self._write() as conn:
            if document is None:
                conn.execute("DELETE FROM object_acls WHERE id = ?", (acl_id,))
            else:
                conn.execute(
                    "INSERT INTO object_acls (id, document) VALUES (?, ?) "
                    "ON CONFLICT (id) DO UPDATE SET document = excluded.document",
                    (acl_id, document),
                )
