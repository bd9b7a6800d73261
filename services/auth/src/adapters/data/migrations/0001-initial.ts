import { messagingTablesSql } from '@imm/bus';
import { Migration } from '@imm/db';

/**
 * Users as Django's auth_user had them (imported rows keep their ids and hashes), issued refresh
 * tokens, the DEV signing key, and the outbox. Names are unqualified: migrations run with
 * search_path set to the `auth` schema.
 */
export class Initial extends Migration {
  override up(): void {
    this.addSql(`create table users (
      id serial primary key,
      password varchar(128) not null,
      last_login timestamptz null,
      is_superuser boolean not null default false,
      username varchar(150) not null,
      first_name varchar(150) not null default '',
      last_name varchar(150) not null default '',
      email varchar(254) not null default '',
      is_staff boolean not null default false,
      is_active boolean not null default true,
      date_joined timestamptz not null default now(),
      constraint users_username_key unique (username)
    )`);
    // Case-insensitive uniqueness; Django allowed a blank email, and imported users may have several.
    this.addSql(`create unique index users_email_key on users (lower(email)) where email <> ''`);

    this.addSql(`create table refresh_token (
      jti varchar(64) primary key,
      family_id uuid not null,
      user_id integer not null references users (id) on delete cascade,
      created_at timestamptz not null default now(),
      expires_at timestamptz not null,
      revoked_at timestamptz null,
      replaced_by varchar(64) null
    )`);
    this.addSql('create index refresh_token_family_idx on refresh_token (family_id)');
    this.addSql('create index refresh_token_user_idx on refresh_token (user_id)');
    this.addSql('create index refresh_token_expires_idx on refresh_token (expires_at)');

    this.addSql(`create table signing_key (
      id smallint primary key check (id = 1),
      kid varchar(64) not null,
      private_key text not null,
      created_at timestamptz not null default now()
    )`);

    for (const sql of messagingTablesSql) this.addSql(sql);
  }
}
