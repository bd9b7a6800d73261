import { readFile } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import { z } from 'zod';
import type { OldData, OldLayout } from '../domain/old-rows';
import { SourceError } from './source-error';

/** `manage.py dumpdata`'s format: `[{"model": "app.model", "pk": …, "fields": {…}}]`. */
const dumpSchema = z.array(
  z.object({
    model: z.string().regex(/^\w+\.\w+$/, 'app_label.model_name'),
    pk: z.unknown(),
    fields: z.record(z.string(), z.unknown()),
  }),
);

const MACHINE_MODEL = 'machines.injectionmoldingmachines';
const HISTORY_MODEL = 'machines.machineshistory';

/**
 * The user model is the `accounts` app's (its class name varies, its fields do not), or Django's
 * own `auth.user` in the other layout.
 */
const userModelLayout = (model: string, fields: Record<string, unknown>): OldLayout | undefined => {
  if (model === 'auth.user') return 'auth_user';
  return model.startsWith('accounts.') && 'username' in fields && 'password' in fields ? 'accounts' : undefined;
};

function parseDump(bytes: Buffer, path: string): unknown {
  let text: string;
  // gzip's magic number, whatever the file is called.
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      text = gunzipSync(bytes).toString('utf8');
    } catch (error) {
      throw new SourceError(`${path} is not a readable gzip file: ${(error as Error).message}`);
    }
  } else {
    text = bytes.toString('utf8');
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new SourceError(`${path} is not valid JSON: ${(error as Error).message}`);
  }
}

/** Reads a dumpdata file (`.json` or `.json.gz`) of the apps `accounts` and `machines`. */
export async function readDumpdata(path: string): Promise<OldData> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (error) {
    throw new SourceError(`cannot read ${path}: ${(error as Error).message}`);
  }
  const parsed = dumpSchema.safeParse(parseDump(bytes, path));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new SourceError(
      `${path} is not a dumpdata file (a list of {model, pk, fields}): at ${issue?.path.join('.') || 'the top'}: ${issue?.message}`,
    );
  }
  const data: OldData = { layout: 'accounts', users: [], machines: [], history: [], ignored: {} };
  const users: Record<OldLayout, Record<string, unknown>[]> = { accounts: [], auth_user: [] };
  for (const { model, pk, fields } of parsed.data) {
    const name = model.toLowerCase();
    const row = { ...fields, id: pk };
    const layout = userModelLayout(name, fields);
    if (name === MACHINE_MODEL) data.machines.push(row);
    else if (name === HISTORY_MODEL) data.history.push(row);
    else if (layout) users[layout].push(row);
    else data.ignored[name] = (data.ignored[name] ?? 0) + 1;
  }
  // The service's own user model when the dump has it; Django's otherwise.
  if (users.accounts.length === 0 && users.auth_user.length > 0) data.layout = 'auth_user';
  data.users = users[data.layout];
  const unused = data.layout === 'accounts' ? users.auth_user.length : 0;
  if (unused > 0) data.ignored['auth.user'] = unused;
  if (data.users.length + data.machines.length + data.history.length === 0) {
    throw new SourceError(`${path} holds no users, machines or history of the Django service`);
  }
  return data;
}
