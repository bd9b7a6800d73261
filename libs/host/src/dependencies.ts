// What the host uses of the database and bus libraries, in a module of its own: start-service
// imports it only for a process that declares either, so the others (the gateway) never load
// MikroORM, knex, pg or the NATS client. Named exports, so the build keeps only these.
export { checkDatabase, openDatabase } from '@imm/db';
export { busReady, connectBus, startOutboxRelay } from '@imm/bus';
