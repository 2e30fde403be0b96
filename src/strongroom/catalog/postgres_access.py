"""Access-control records in the PostgreSQL catalog: policies attached to users, and object ACLs.

The same records as `sqlite_access` (see there for why they are keyed as they are):
user policies by the user's id, object ACLs by version id or 'upload:<upload id>'.
Each call is one statement, so atomic without a transaction of its own.
"""

from __future__ import annotations

from strongroom.catalog.postgres_db import PostgresDatabase


class PostgresAccess(PostgresDatabase):
    # --- policies attached to users ---

    def put_user_policy(self, user_id: str, name: str, document: str) -> None:
        self._conn().execute(
            "INSERT INTO user_policies (user_id, name, document) VALUES (%s, %s, %s) "
            "ON CONFLICT (user_id, name) DO UPDATE SET document = excluded.document",
            (user_id, name, document),
        )

    def delete_user_policy(self, user_id: str, name: str) -> bool:
        cur = self._conn().execute("DELETE FROM user_policies WHERE user_id = %s AND name = %s",
                                   (user_id, name))
        return cur.rowcount > 0

    def list_user_policies(self, user_id: str) -> list[tuple[str, str]]:
        rows = self._conn().execute(
            "SELECT name, document FROM user_policies WHERE user_id = %s ORDER BY name", (user_id,))
        return [(name, document) for name, document in rows]

    # --- object ACLs ---

    def get_object_acl(self, acl_id: str) -> str | None:
        row = self._conn().execute("SELECT document FROM object_acls WHERE id = %s", (acl_id,)).fetchone()
        return None if row is None else row[0]

    def put_object_acl(self, acl_id: str, document: str | None) -> None:
        if document is None:
            self._conn().execute("DELETE FROM object_acls WHERE id = %s", (acl_id,))
        else:
            self._conn().execute(
                "INSERT INTO object_acls (id, document) VALUES (%s, %s) "
                "ON CONFLICT (id) DO UPDATE SET document = excluded.document",
                (acl_id, document),
            )
