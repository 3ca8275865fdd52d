// A reference execution of Roster's queries, for differential tests: graphql-js runs the
// checked-in schema over naive resolvers that read whole tables and filter, sort, page and
// check visibility in plain JavaScript. It shares no code or SQL with Roster.
//
//   node tests-js/reference.mjs <database URL> [--port N]
//
// <database URL>: sqlite:///abs/path.db (or sqlite://relative/path.db; a query string is
// ignored) or postgres://user@host:port/dbname. Prints `listening <port>` once ready, then
// answers `POST /graphql` ({query, variables, operationName}) as the user whose key is in the
// `x-viewer` header, trusted as is: this server is for tests only. Queries only.

import { createHash } from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import { domainToUnicode } from "node:url";
import { GraphQLError, Kind, buildSchema, execute, parse, validate } from "graphql";
import { caseFold } from "unicode-case-folding";

const PAGE_MAX_SIZE = 100;
const I64_MAX = 9223372036854775807n;
const I64_MIN = -9223372036854775808n;

const fail = (code, message) => new GraphQLError(message, { extensions: { code } });
const badInput = (message) => fail("BAD_USER_INPUT", message);

// ---- Times: BigInt nanoseconds since the Unix epoch, UTC. ----

const NS_PER_SECOND = 1_000_000_000n;

/** The time of these fields, or null when they name no valid time. */
function timeOf([year, month, day, hour, minute, second], fraction = "", offsetSeconds = 0) {
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  if (date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day) return null;
  if (hour > 23 || minute > 59 || second > 60) return null;
  const nanos = BigInt((fraction + "000000000").slice(0, 9));
  const seconds = date.getTime() / 1000 + hour * 3600 + minute * 60 + second - offsetSeconds;
  return BigInt(seconds) * NS_PER_SECOND + nanos;
}

function offsetOf(sign, hours, minutes = "0") {
  return (sign === "+" ? 1 : -1) * (Number(hours) * 3600 + Number(minutes) * 60);
}

/** A time as the database returns it: RFC 3339 from SQLite, `2026-11-25 10:02:52.83+00` from PostgreSQL. */
function storedTime(text) {
  if (text === null || text === undefined) return null;
  const match =
    /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:(Z)|([+-])(\d{2})(?::?(\d{2}))?)?$/.exec(
      String(text),
    );
  if (!match) throw new Error(`unreadable time in the database: ${text}`);
  const offset = match[9] ? offsetOf(match[9], match[10], match[11]) : 0;
  const time = timeOf(match.slice(1, 7).map(Number), match[7], offset);
  if (time === null) throw new Error(`unreadable time in the database: ${text}`);
  return time;
}

/** chrono's `DateTime::parse_from_rfc3339`, which cursors are read with; null when invalid. */
function strictTime(text) {
  const match =
    /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:[Zz]|([+\-\u2212])(\d{2}):([0-5]\d))$/.exec(
      text,
    );
  if (!match || (match[8] && Number(match[9]) > 23)) return null;
  const offset = match[8] ? offsetOf(match[8] === "+" ? "+" : "-", match[9], match[10]) : 0;
  return timeOf(match.slice(1, 7).map(Number), match[7], offset);
}

/** chrono's `str::parse::<DateTime<Utc>>` (a relaxed RFC 3339), which DateTime arguments are read with. */
function relaxedTime(text) {
  const match =
    /^(\d{4})-(\d{1,2})-(\d{1,2})[Tt ](\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.(\d+))?\s*(?:(UTC)|[Zz]|([+\-\u2212])(\d{2})[:\s]*([0-5]\d))$/i.exec(
      text,
    );
  if (!match || (match[9] && Number(match[10]) > 23)) return null;
  const offset = match[9] ? offsetOf(match[9] === "+" ? "+" : "-", match[10], match[11]) : 0;
  return timeOf(match.slice(1, 7).map(Number), match[7], offset);
}

/** chrono's `DateTime<Utc>::to_rfc3339()`: 0, 3, 6 or 9 fractional digits, `+00:00`. */
function formatTime(time) {
  let seconds = time / NS_PER_SECOND;
  let nanos = time % NS_PER_SECOND;
  if (nanos < 0n) {
    nanos += NS_PER_SECOND;
    seconds -= 1n;
  }
  const whole = new Date(Number(seconds) * 1000).toISOString().slice(0, 19);
  const n = Number(nanos);
  const digits = (value, width) => "." + String(value).padStart(width, "0");
  const fraction =
    n === 0 ? "" : n % 1e6 === 0 ? digits(n / 1e6, 3) : n % 1e3 === 0 ? digits(n / 1e3, 6) : digits(n, 9);
  return `${whole}${fraction}+00:00`;
}

// ---- The database: every request reads every table it needs, whole. ----

const QUERIES = {
  users: 'SELECT * FROM "user"',
  profiles: 'SELECT * FROM "profile"',
  links: 'SELECT * FROM "user_profile"',
  roles: 'SELECT * FROM "role"',
  grants: 'SELECT * FROM "user_role"',
  invitations: 'SELECT * FROM "profile_invitation"',
};

async function openDatabase(url) {
  if (url.startsWith("sqlite:")) {
    const { default: Database } = await import("better-sqlite3");
    const file = url.slice("sqlite:".length).replace(/^\/\//, "").split("?")[0];
    const db = new Database(file, { fileMustExist: true });
    const statements = Object.fromEntries(Object.entries(QUERIES).map(([name, sql]) => [name, db.prepare(sql)]));
    const readAll = db.transaction(() =>
      Object.fromEntries(Object.entries(statements).map(([name, statement]) => [name, statement.all()])),
    );
    return {
      read: async () => readAll(),
      // SQLite compares bound times as RFC 3339 text, which orders as the times do.
      bound: (time) => time,
    };
  }
  if (url.startsWith("postgres://") || url.startsWith("postgresql://")) {
    const { default: pg } = await import("pg");
    // Times as text, so microseconds are not lost to JavaScript dates; int8 as numbers.
    const types = {
      getTypeParser: (oid, format) => {
        if (oid === 1184 || oid === 1114) return (text) => text;
        if (oid === 20) return (text) => Number(text);
        return pg.types.getTypeParser(oid, format);
      },
    };
    const pool = new pg.Pool({ connectionString: url, max: 4, types });
    return {
      read: async () => {
        const client = await pool.connect();
        try {
          await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
          const tables = {};
          for (const [name, sql] of Object.entries(QUERIES)) tables[name] = (await client.query(sql)).rows;
          await client.query("COMMIT");
          return tables;
        } finally {
          client.release();
        }
      },
      // A time bound to a statement keeps whole microseconds (sqlx truncates towards 2000-01-01).
      bound: (time) => {
        const y2k = 946684800n * NS_PER_SECOND;
        const rest = (time - y2k) % 1000n;
        return time - rest;
      },
    };
  }
  throw new Error(`unsupported database URL: ${url}`);
}

/** The rows of one request, keyed and typed. */
function snapshot(tables) {
  const users = new Map();
  for (const row of tables.users) {
    users.set(Number(row.id), {
      id: Number(row.id),
      email: row.email,
      displayName: row.display_name ?? null,
      createdAt: storedTime(row.created_at),
      active: Boolean(row.active),
      lastLoginAt: storedTime(row.last_login_at),
      currentLoginAt: storedTime(row.current_login_at),
      lastLoginIp: row.last_login_ip ?? null,
      currentLoginIp: row.current_login_ip ?? null,
      loginCount: Number(row.login_count),
      emailConfirmedAt: storedTime(row.confirmed_at),
    });
  }
  const profiles = new Map();
  for (const row of tables.profiles) {
    profiles.set(Number(row.id), {
      id: Number(row.id),
      name: row.name,
      createdAt: storedTime(row.created_at),
      updatedAt: storedTime(row.updated_at),
    });
  }
  const links = tables.links.map((row) => ({
    userId: Number(row.user_id),
    profileId: Number(row.profile_id),
    role: row.role,
    createdAt: storedTime(row.created_at),
  }));
  const roles = new Map();
  for (const row of tables.roles) {
    roles.set(Number(row.id), {
      name: row.name,
      description: row.description,
      permissions: row.permissions
        .split(",")
        .map((name) => name.trim())
        .filter((name) => name !== ""),
    });
  }
  const grants = tables.grants.map((row) => ({ userId: Number(row.user_id), roleId: Number(row.role_id) }));
  const invitations = tables.invitations.map((row) => ({
    id: Number(row.id),
    profileId: Number(row.profile_id),
    inviterId: Number(row.inviter_id),
    email: row.email,
    invitee: row.invitee,
    role: row.role,
    createdAt: storedTime(row.created_at),
    expiresAt: storedTime(row.expires_at),
  }));
  return { users, profiles, links, roles, grants, invitations };
}

/** A user's roles, by role key. */
function rolesOf(snap, userId) {
  return snap.grants
    .filter((grant) => grant.userId === userId)
    .map((grant) => grant.roleId)
    .sort((a, b) => a - b)
    .map((roleId) => snap.roles.get(roleId));
}

/** The caller: an active user, what their roles let them read, and the profiles they manage; null for nobody. */
function viewerOf(snap, header) {
  if (header === undefined || !/^[0-9]+$/.test(header)) return null;
  const user = snap.users.get(Number(header));
  if (!user || !user.active) return null;
  const permissions = new Set(rolesOf(snap, user.id).flatMap((role) => role.permissions));
  return {
    user,
    usersRead: permissions.has("users:read"),
    profilesRead: permissions.has("profiles:read"),
    profilesWrite: permissions.has("profiles:write"),
    manages: new Set(snap.links.filter((link) => link.userId === user.id).map((link) => link.profileId)),
  };
}

// ---- Who sees what. ----

function requireViewer(req) {
  if (!req.viewer) {
    throw fail(
      "UNAUTHENTICATED",
      "authentication required: send a valid access token as `Authorization: Bearer <token>`",
    );
  }
  return req.viewer;
}

/** A profile is visible to its managers and to `profiles:read` holders. */
function profileVisible(req, profileId) {
  const viewer = req.viewer;
  return Boolean(viewer) && (viewer.profilesRead || viewer.manages.has(profileId));
}

/** A user is visible to themself, to users sharing a profile with them, and to `users:read` holders. */
function userVisible(req, userId) {
  const viewer = req.viewer;
  if (!viewer) return false;
  if (viewer.usersRead || viewer.user.id === userId) return true;
  return req.snap.links.some((link) => link.userId === userId && viewer.manages.has(link.profileId));
}

/** Whether the caller may see and revoke a profile's invitations: its owners and `profiles:write` holders. */
function ownsProfile(req, profileId) {
  const viewer = req.viewer;
  if (!viewer) return false;
  if (viewer.profilesWrite) return true;
  return req.snap.links.some(
    (link) => link.userId === viewer.user.id && link.profileId === profileId && link.role === "OWNER",
  );
}

/** What names the account of an email in invitations: SHA-256 (hex) of its key. */
function emailDigest(email) {
  return createHash("sha256").update(emailKey(email), "utf8").digest("hex");
}

/** The invitations not yet expired. */
function pendingInvitations(req) {
  const now = BigInt(Date.now()) * 1_000_000n;
  return req.snap.invitations.filter((invitation) => invitation.expiresAt > now);
}

/** Whether the caller may see an invitation: its invitee, and the owners of its profile. */
function invitationVisible(req, invitation) {
  const viewer = req.viewer;
  return Boolean(viewer) && (invitation.invitee === emailDigest(viewer.user.email) || ownsProfile(req, invitation.profileId));
}

/** The user's account details, for the user themself and `users:read` holders; else null. */
function accountOf(req, user) {
  const viewer = req.viewer;
  return viewer && (viewer.user.id === user.id || viewer.usersRead) ? user : null;
}

// ---- Global IDs: standard base64 of `User:<key>` or `Profile:<key>`. ----

function globalId(type, key) {
  return Buffer.from(`${type}:${key}`).toString("base64");
}

/** Strict UTF-8 text of `bytes`, or null. */
function utf8(bytes) {
  if (bytes === null) return null;
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    return null;
  }
}

/** Canonical, padded standard base64 only. */
function base64Bytes(text) {
  if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(text)) return null;
  const bytes = Buffer.from(text, "base64");
  return bytes.toString("base64") === text ? bytes : null;
}

/** Canonical base64url without padding only. */
function base64UrlBytes(text) {
  if (!/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1) return null;
  const bytes = Buffer.from(text, "base64url");
  return bytes.toString("base64url") === text ? bytes : null;
}

const echo = (text) => Array.from(text).slice(0, 64).join("");

/** The type and key of a global ID; a malformed one is BAD_USER_INPUT. */
function decodeId(id) {
  const text = utf8(base64Bytes(id));
  const match = text === null ? null : /^(User|Profile|ProfileInvitation):([1-9][0-9]*)$/.exec(text);
  if (!match || BigInt(match[2]) > I64_MAX) throw badInput(`\`${echo(id)}\` is not a valid ID`);
  return { type: match[1], key: Number(match[2]) };
}

function decodeIdAs(id, type) {
  const decoded = decodeId(id);
  if (decoded.type !== type) throw badInput(`\`${echo(id)}\` is not the ID of a ${type}`);
  return decoded.key;
}

// ---- Lists: filters, orders, cursors and pages. ----

/**
 * Unicode's compatibility caseless matching (D146: full case folding around NFKD), composed
 * again: the same on both databases, as Roster's `…Contains` filters and text orders are.
 */
function fold(text) {
  return caseFold(caseFold(text.normalize("NFD")).normalize("NFKD")).normalize("NFKC");
}

/** The key of an email: in NFKC, its domain mapped to Unicode form by IDNA (UTS 46), folded. */
function emailKey(email) {
  const address = email.trim().normalize("NFKC");
  const at = address.lastIndexOf("@");
  if (at < 0) return fold(address);
  return fold(`${address.slice(0, at)}@${domainToUnicode(address.slice(at + 1))}`);
}

/** The sort keys by GraphQL order field, under the names cursors carry. */
const SORT_KEYS = {
  ID: "Id",
  EMAIL: "Email",
  NAME: "Name",
  CREATED_AT: "CreatedAt",
  UPDATED_AT: "UpdatedAt",
  LAST_LOGIN_AT: "LastLoginAt",
  LINKED_AT: "LinkedAt",
  ROLE: "Role",
};
const TIME_KEYS = new Set(["CreatedAt", "UpdatedAt", "LastLoginAt", "LinkedAt"]);

/** The sort value of an item ({node, link}): null, text, or a BigInt (times, roles). */
function sortValue(req, key, { node, link }) {
  switch (key) {
    case "Id":
      return null;
    case "Email":
      return emailKey(node.email);
    case "Name":
      return fold(node.name);
    case "CreatedAt":
      return node.createdAt;
    case "UpdatedAt":
      return node.updatedAt;
    case "LastLoginAt":
      return node.lastLoginAt;
    case "LinkedAt":
      return link.createdAt;
    case "Role":
      return link.role === "OWNER" ? 0n : 1n;
  }
  throw new Error(`unknown sort key ${key}`);
}

/** Text compares by UTF-8 bytes, as both databases compare Roster's folded keys (BINARY, collation "C"). */
function compareValues(a, b) {
  if (typeof a === "string") return Buffer.compare(Buffer.from(a), Buffer.from(b));
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Two positions ({value, id}) in ascending order: NULLs first, ties broken by key. */
function compareAscending(key, a, b) {
  let order = 0;
  if (key === "LastLoginAt") order = Number(a.value !== null) - Number(b.value !== null);
  if (order === 0 && key !== "Id" && a.value !== null && b.value !== null) order = compareValues(a.value, b.value);
  if (order === 0) order = a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
  return order;
}

function encodeCursor(list, sort, position) {
  const { key } = sort;
  let value = position.value;
  if (value !== null && key === "Role") value = Number(value);
  if (value !== null && TIME_KEYS.has(key)) value = formatTime(value);
  const json = JSON.stringify([list, orderTag(sort), value, Number(position.id)]);
  return Buffer.from(json).toString("base64url");
}

function orderTag(sort) {
  return `${sort.key}_${sort.descending ? "DESC" : "ASC"}`;
}

/** The number literals of a JSON text, in order (JSON.parse cannot tell `1` from `1.0`). */
function numberLiterals(json) {
  const outsideStrings = json.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  return outsideStrings.match(/-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/g) ?? [];
}

/** An integer literal within i64, as a BigInt; null otherwise. */
function i64Literal(literal) {
  if (literal === undefined || !/^-?\d+$/.test(literal)) return null;
  const value = BigInt(literal);
  return value < I64_MIN || value > I64_MAX ? null : value;
}

/** The position a cursor of `list` in order `sort` points at; any other cursor is refused. */
function decodeCursor(req, list, sort, argument, text) {
  const invalid = () => badInput(`\`${argument}\` is not a cursor of this list in this order`);
  const json = utf8(base64UrlBytes(text));
  let payload;
  try {
    payload = JSON.parse(json);
  } catch {
    throw invalid();
  }
  if (!Array.isArray(payload) || payload.length !== 4) throw invalid();
  const [tag, order, value] = payload;
  if (typeof tag !== "string" || typeof order !== "string" || typeof payload[3] !== "number") throw invalid();
  const literals = numberLiterals(json);
  const id = i64Literal(literals.at(-1));
  if (id === null || tag !== list || order !== orderTag(sort)) throw invalid();
  const { key } = sort;
  if (value === null && (key === "Id" || key === "LastLoginAt")) return { value: null, id };
  if (typeof value === "string" && (key === "Email" || key === "Name")) return { value, id };
  if (typeof value === "number" && key === "Role") {
    const role = i64Literal(literals.at(-2));
    if (role === null) throw invalid();
    return { value: role, id };
  }
  if (typeof value === "string" && TIME_KEYS.has(key)) {
    const time = strictTime(value);
    if (time === null) throw invalid();
    return { value: req.db.bound(time), id };
  }
  throw invalid();
}

/** `key`, a folded text, contains `part` folded; `%` and `_` are plain characters. */
function contains(key, part) {
  return key.includes(fold(part));
}

/** Whether an item ({node, link}) passes a filter (Roster's `Filter`: unset fields pass). */
function passes(req, filter, { node, link }) {
  if (filter.emailContains != null && !contains(emailKey(node.email), filter.emailContains)) return false;
  if (filter.nameContains != null && !contains(fold(node.name), filter.nameContains)) return false;
  if (filter.active != null && node.active !== filter.active) return false;
  if (filter.accountRole != null && !rolesOf(req.snap, node.id).some((role) => role.name === filter.accountRole))
    return false;
  if (filter.linkRole != null && link.role !== filter.linkRole) return false;
  if (filter.linkedAfter != null && !(link.createdAt > req.db.bound(filter.linkedAfter))) return false;
  if (filter.linkedBefore != null && !(link.createdAt < req.db.bound(filter.linkedBefore))) return false;
  return true;
}

/**
 * A connection over `items` ({node, link}, every one the caller may see) of the list tagged
 * `list`: filtered, ordered, windowed by the cursors, and paged.
 */
function connection(req, list, items, args, filter, toObject) {
  const sort = {
    key: SORT_KEYS[args.orderBy?.field ?? "ID"],
    descending: args.orderBy?.direction === "DESC",
  };
  const size = (name) => {
    const value = args[name];
    if (value != null && (value < 0 || value > PAGE_MAX_SIZE))
      throw badInput(`\`${name}\` must be between 0 and ${PAGE_MAX_SIZE}, got ${value}`);
    return value ?? null;
  };
  const first = size("first");
  const last = size("last");
  if (first !== null && last !== null) throw badInput("give `first` or `last`, not both");
  const after = args.after == null ? null : decodeCursor(req, list, sort, "after", args.after);
  const before = args.before == null ? null : decodeCursor(req, list, sort, "before", args.before);

  const inOrder = (a, b) => (sort.descending ? -1 : 1) * compareAscending(sort.key, a, b);
  const rows = items
    .filter((item) => passes(req, filter, item))
    .map((item) => ({ item, position: { value: sortValue(req, sort.key, item), id: BigInt(item.node.id) } }))
    .sort((a, b) => inOrder(a.position, b.position));
  const window = rows.filter(
    (row) => (!after || inOrder(row.position, after) > 0) && (!before || inOrder(row.position, before) < 0),
  );
  const backward = last !== null;
  const limit = first ?? last ?? PAGE_MAX_SIZE;
  const more = window.length > limit;
  const shown = backward ? window.slice(window.length - Math.min(limit, window.length)) : window.slice(0, limit);

  const edges = shown.map(({ item, position }) => ({
    cursor: encodeCursor(list, sort, position),
    node: toObject(req, item.node),
    role: item.link?.role,
    linkedAt: item.link?.createdAt,
  }));
  return {
    totalCount: rows.length,
    pageInfo: {
      hasPreviousPage: backward ? more : after !== null,
      hasNextPage: backward ? before !== null : more,
      startCursor: edges.length ? edges[0].cursor : null,
      endCursor: edges.length ? edges[edges.length - 1].cursor : null,
    },
    edges,
    nodes: edges.map((edge) => edge.node),
  };
}

// ---- The objects. Fields that take arguments or need the caller are functions, which
// graphql-js's default resolver calls with (args, context). ----

function userObject(req, user) {
  const account = () => accountOf(req, user);
  return {
    __typename: "User",
    id: globalId("User", user.id),
    email: user.email,
    displayName: user.displayName,
    createdAt: user.createdAt,
    profiles: (args) => profilesOfUser(req, user, args),
    invitations: (args) => invitationsOfUser(req, user, args),
    roles: () => (account() ? rolesOf(req.snap, user.id) : null),
    active: () => account()?.active ?? null,
    lastLoginAt: () => account()?.lastLoginAt ?? null,
    currentLoginAt: () => account()?.currentLoginAt ?? null,
    lastLoginIp: () => account()?.lastLoginIp ?? null,
    currentLoginIp: () => account()?.currentLoginIp ?? null,
    loginCount: () => account()?.loginCount ?? null,
    emailConfirmedAt: () => account()?.emailConfirmedAt ?? null,
  };
}

function profileObject(req, profile) {
  return {
    __typename: "Profile",
    id: globalId("Profile", profile.id),
    name: profile.name,
    createdAt: profile.createdAt,
    updatedAt: profile.updatedAt,
    users: (args) => usersOfProfile(req, profile, args),
    invitations: (args) => invitationsOfProfile(req, profile, args),
  };
}

function invitationObject(req, invitation) {
  const profile = req.snap.profiles.get(invitation.profileId);
  return {
    __typename: "ProfileInvitation",
    id: globalId("ProfileInvitation", invitation.id),
    profile: () => (profileVisible(req, invitation.profileId) ? profileObject(req, profile) : null),
    profileName: profile.name,
    email: invitation.email,
    role: invitation.role,
    inviterEmail: req.snap.users.get(invitation.inviterId).email,
    createdAt: invitation.createdAt,
    expiresAt: invitation.expiresAt,
  };
}

/** A list of invitations, its arguments checked first; null for callers who may not see it. */
function invitationList(req, list, args, visible, which) {
  const items = visible ? pendingInvitations(req).filter(which).map((invitation) => ({ node: invitation })) : [];
  const page = connection(req, list, items, args, {}, invitationObject);
  return visible ? page : null;
}

/** User.invitations: the pending invitations sent to the user's address, for the user only. */
function invitationsOfUser(req, user, args) {
  const key = emailDigest(user.email);
  const self = req.viewer?.user.id === user.id;
  return invitationList(req, "User.invitations", args, self, (invitation) => invitation.invitee === key);
}

/** Profile.invitations: the profile's pending invitations, for its owners and `profiles:write` holders. */
function invitationsOfProfile(req, profile, args) {
  const visible = ownsProfile(req, profile.id);
  return invitationList(req, "Profile.invitations", args, visible, (invitation) => invitation.profileId === profile.id);
}

/** User.profiles: the user's links to profiles the caller may see. */
function profilesOfUser(req, user, args) {
  const items = req.snap.links
    .filter((link) => link.userId === user.id && profileVisible(req, link.profileId))
    .map((link) => ({ node: req.snap.profiles.get(link.profileId), link }));
  const filter = args.filter ?? {};
  return connection(
    req,
    "User.profiles",
    items,
    args,
    {
      nameContains: filter.nameContains,
      linkRole: filter.role,
      linkedAfter: filter.linkedAfter,
      linkedBefore: filter.linkedBefore,
    },
    profileObject,
  );
}

/** Profile.users: the profile's links to users the caller may see. */
function usersOfProfile(req, profile, args) {
  const filter = args.filter ?? {};
  const byAccount = filter.active != null || filter.accountRole != null || args.orderBy?.field === "LAST_LOGIN_AT";
  if (byAccount && !requireViewer(req).usersRead) {
    throw fail("FORBIDDEN", "filtering or ordering by account details needs the `users:read` permission");
  }
  const items = req.snap.links
    .filter((link) => link.profileId === profile.id && userVisible(req, link.userId))
    .map((link) => ({ node: req.snap.users.get(link.userId), link }));
  return connection(
    req,
    "Profile.users",
    items,
    args,
    {
      emailContains: filter.emailContains,
      active: filter.active,
      accountRole: filter.accountRole,
      linkRole: filter.role,
      linkedAfter: filter.linkedAfter,
      linkedBefore: filter.linkedBefore,
    },
    userObject,
  );
}

const query = {
  me: (args, req) => userObject(req, requireViewer(req).user),

  user: ({ id }, req) => {
    requireViewer(req);
    const key = decodeIdAs(id, "User");
    const user = req.snap.users.get(key);
    return user && userVisible(req, key) ? userObject(req, user) : null;
  },

  profile: ({ id }, req) => {
    requireViewer(req);
    const key = decodeIdAs(id, "Profile");
    const profile = req.snap.profiles.get(key);
    return profile && profileVisible(req, key) ? profileObject(req, profile) : null;
  },

  node: ({ id }, req) => {
    requireViewer(req);
    const { type, key } = decodeId(id);
    if (type === "User") {
      const user = req.snap.users.get(key);
      return user && userVisible(req, key) ? userObject(req, user) : null;
    }
    if (type === "ProfileInvitation") {
      const invitation = pendingInvitations(req).find((pending) => pending.id === key);
      return invitation && invitationVisible(req, invitation) ? invitationObject(req, invitation) : null;
    }
    const profile = req.snap.profiles.get(key);
    return profile && profileVisible(req, key) ? profileObject(req, profile) : null;
  },

  users: (args, req) => {
    if (!requireViewer(req).usersRead) throw fail("FORBIDDEN", "this needs the `users:read` permission");
    const items = [...req.snap.users.values()].map((user) => ({ node: user }));
    const filter = args.filter ?? {};
    return connection(
      req,
      "users",
      items,
      args,
      { emailContains: filter.emailContains, active: filter.active, accountRole: filter.role },
      userObject,
    );
  },

  profiles: (args, req) => {
    requireViewer(req);
    const items = [...req.snap.profiles.values()]
      .filter((profile) => profileVisible(req, profile.id))
      .map((profile) => ({ node: profile }));
    const filter = args.filter ?? {};
    return connection(req, "profiles", items, args, { nameContains: filter.nameContains }, profileObject);
  },
};

// ---- The schema, and the answers. ----

function loadSchema() {
  const schema = buildSchema(fs.readFileSync(new URL("../schema.graphql", import.meta.url), "utf8"));
  const dateTime = schema.getType("DateTime");
  const parseDateTime = (value) => {
    const time = typeof value === "string" ? relaxedTime(value) : null;
    if (time === null) throw new TypeError(`Failed to parse "DateTime": ${JSON.stringify(value)}`);
    return time;
  };
  dateTime.serialize = (time) => formatTime(time);
  dateTime.parseValue = parseDateTime;
  dateTime.parseLiteral = (node) => {
    if (node.kind !== Kind.STRING) throw new TypeError(`Failed to parse "DateTime": not a string`);
    return parseDateTime(node.value);
  };
  return schema;
}

/**
 * An error with its code. A field error has one location, as Roster writes it: that of the
 * first field of its response key (graphql-js gives every merged field's).
 */
function errorJson(error, code, firstLocationOnly = false) {
  const json = { message: error.message };
  if (error.locations?.length) json.locations = firstLocationOnly ? [error.locations[0]] : error.locations;
  if (error.path) json.path = error.path;
  json.extensions = { code: error.extensions?.code ?? code, ...error.extensions };
  return json;
}

/** Roster's order of errors: by location, then by path (names by text, indices by number). */
function compareErrors(a, b) {
  const at = (error) => error.locations?.[0] ?? { line: -1, column: -1 };
  const [pa, pb] = [at(a), at(b)];
  if (pa.line !== pb.line) return pa.line - pb.line;
  if (pa.column !== pb.column) return pa.column - pb.column;
  const key = (segment) => (typeof segment === "number" ? [segment, ""] : [0, segment]);
  const [path1, path2] = [a.path ?? [], b.path ?? []];
  for (let i = 0; i < Math.min(path1.length, path2.length); i++) {
    const [x, y] = [key(path1[i]), key(path2[i])];
    if (x[0] !== y[0]) return x[0] - y[0];
    if (x[1] !== y[1]) return x[1] < y[1] ? -1 : 1;
  }
  return path1.length - path2.length;
}

function requestError(errors, code) {
  return { errors: errors.map((error) => errorJson(error, code)) };
}

async function answer(schema, db, body, viewerHeader) {
  if (typeof body?.query !== "string" || body.query.trim() === "") {
    return { errors: [{ message: "the request has no `query`", extensions: { code: "BAD_REQUEST" } }] };
  }
  let document;
  try {
    document = parse(body.query);
  } catch (error) {
    return requestError([error], "GRAPHQL_PARSE_FAILED");
  }
  const invalid = validate(schema, document);
  if (invalid.length) return requestError(invalid, "GRAPHQL_VALIDATION_FAILED");
  const operations = document.definitions.filter((definition) => definition.kind === Kind.OPERATION_DEFINITION);
  const operation = body.operationName
    ? operations.find((op) => op.name?.value === body.operationName)
    : operations.length === 1 && operations[0];
  if (operation && operation.operation !== "query") {
    return { errors: [{ message: "the reference answers queries only", extensions: { code: "BAD_REQUEST" } }] };
  }
  const snap = snapshot(await db.read());
  const req = { db, snap, viewer: viewerOf(snap, viewerHeader) };
  const result = await execute({
    schema,
    document,
    rootValue: query,
    contextValue: req,
    variableValues: body.variables ?? undefined,
    operationName: body.operationName ?? undefined,
  });
  if (!("data" in result)) return requestError(result.errors, "GRAPHQL_VALIDATION_FAILED");
  const json = { data: result.data };
  if (result.errors?.length) {
    json.errors = result.errors.map((error) => errorJson(error, "INTERNAL_SERVER_ERROR", true)).sort(compareErrors);
  }
  return json;
}

async function main() {
  const args = process.argv.slice(2);
  const portAt = args.indexOf("--port");
  const port = portAt >= 0 ? Number(args.splice(portAt, 2)[1]) : 0;
  if (args.length !== 1) {
    console.error("usage: node reference.mjs <database URL> [--port N]");
    process.exit(2);
  }
  const schema = loadSchema();
  const db = await openDatabase(args[0]);

  const server = http.createServer((request, response) => {
    const chunks = [];
    request.on("data", (chunk) => chunks.push(chunk));
    request.on("end", async () => {
      const send = (status, json) => {
        response.writeHead(status, { "content-type": "application/json" });
        response.end(JSON.stringify(json));
      };
      if (request.method !== "POST" || request.url.split("?")[0] !== "/graphql") {
        return send(404, { errors: [{ message: "not found", extensions: { code: "BAD_REQUEST" } }] });
      }
      let body;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
      } catch {
        return send(200, { errors: [{ message: "the body is not JSON", extensions: { code: "BAD_REQUEST" } }] });
      }
      try {
        send(200, await answer(schema, db, body, request.headers["x-viewer"]));
      } catch (error) {
        console.error(error);
        send(500, { errors: [{ message: String(error), extensions: { code: "INTERNAL_SERVER_ERROR" } }] });
      }
    });
  });
  server.listen(port, "127.0.0.1", () => console.log(`listening ${server.address().port}`));
}

await main();
