import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DataType,
  MessageSecurityMode,
  type Namespace,
  nodesets,
  OPCUACertificateManager,
  OPCUAServer,
  RegisterServerMethod,
  SecurityPolicy,
  type StatusCode,
  StatusCodes,
  type UAObject,
  type UAVariable,
  Variant,
} from 'node-opcua';

export const IMM2MES_NS = 'http://opcfoundation.org/UA/PlasticsRubber/IMM2MES/';
export const GENERAL_TYPES_NS = 'http://opcfoundation.org/UA/PlasticsRubber/GeneralTypes/';
export const DI_NS = 'http://opcfoundation.org/UA/DI/';

export type JobMethod = 'StartJob' | 'InterruptJob' | 'FinishJob';

/**
 * What a job method does when called: answer with a status and, unless told otherwise, move
 * `JobStatus`. The test replaces it to refuse (`BadInvalidState`), to answer Good without a
 * transition, or to pass through START_UP_ACTIVE first.
 */
export type MethodBehaviour = (machine: TestMachine) => StatusCode | Promise<StatusCode>;

export interface TestMachine {
  name: string;
  jobStatus: number;
  machineMode: number;
  /** Calls received per method. */
  calls: Record<JobMethod, number>;
  behaviour: Record<JobMethod, MethodBehaviour>;
  setJobStatus(value: number): void;
  setMachineMode(value: number): void;
}

export interface OpcuaTestServer {
  /** `opc.tcp://127.0.0.1:<port>/UA/IMM` */
  url: string;
  port: number;
  machines: Map<string, TestMachine>;
  /** Adds a machine object under DeviceSet with the EUROMAP 77 nodes. */
  addMachine(name: string, options?: { jobStatus?: number; machineMode?: number; without?: string[] }): TestMachine;
  /**
   * Sessions that subscribe to this machine's MachineMode now (the status monitor does; the driver
   * subscribes only to JobStatus, while a command runs).
   */
  modeWatchers(name: string): string[];
  /** Sessions created since the server started. */
  sessionsCreated(): number;
  /** Sessions open now. */
  currentSessions(): number;
  stop(): Promise<void>;
}

/** The ordinary behaviour: StartJob → JOB_IN_PRODUCTION, InterruptJob → JOB_INTERRUPTED, FinishJob → JOB_FINISHED. */
export function moveTo(status: number, delayMs = 0): MethodBehaviour {
  return (machine) => {
    if (delayMs === 0) machine.setJobStatus(status);
    else setTimeout(() => machine.setJobStatus(status), delayMs);
    return StatusCodes.Good;
  };
}

export function defaultBehaviour(): Record<JobMethod, MethodBehaviour> {
  return { StartJob: moveTo(6, 50), InterruptJob: moveTo(7, 50), FinishJob: moveTo(8, 50) };
}

/**
 * An OPC UA server on 127.0.0.1 shaped like a EUROMAP 77 machine (OPC 40077), in the test's own
 * process: `Objects/DeviceSet/<name>/MachineStatus/MachineMode` and
 * `Objects/DeviceSet/<name>/Jobs/ActiveJobValues/{JobStatus, StartJob, InterruptJob, FinishJob}`,
 * in the namespaces the companion specification uses. Its node ids are numbers of its own, so a
 * client that hard-coded node ids would not find them.
 */
export async function startOpcuaTestServer(
  options: { port?: number; security?: boolean; users?: Record<string, string> } = {},
): Promise<OpcuaTestServer> {
  const pkiRoot = mkdtempSync(join(tmpdir(), 'opcua-test-server-'));
  const serverCertificateManager = new OPCUACertificateManager({
    rootFolder: join(pkiRoot, 'pki'),
    automaticallyAcceptUnknownCertificate: true,
  });
  const users = options.users;
  // Monitored items by node id, with the session that created them.
  const items = new Map<object, { nodeId: string; sessionId: string; subscription: { state: number } }>();
  const server = new OPCUAServer({
    onCreateMonitoredItem: async (subscription, item) => {
      const nodeId = (item as { node?: { nodeId: { toString(): string } } | null }).node?.nodeId.toString() ?? '';
      items.set(item, { nodeId, sessionId: subscription.sessionId.toString(), subscription });
      return StatusCodes.Good;
    },
    onDeleteMonitoredItem: async (_subscription, item) => {
      items.delete(item);
      return StatusCodes.Good;
    },
    port: options.port ?? 0,
    hostname: '127.0.0.1',
    resourcePath: '/UA/IMM',
    nodeset_filename: [nodesets.standard, nodesets.di],
    serverCertificateManager,
    securityModes: options.security
      ? [MessageSecurityMode.SignAndEncrypt, MessageSecurityMode.Sign]
      : [MessageSecurityMode.None],
    securityPolicies: options.security ? [SecurityPolicy.Basic256Sha256] : [SecurityPolicy.None],
    allowAnonymous: !users,
    userManager: users ? { isValidUser: (name: string, password: string) => users[name] === password } : undefined,
    // Secure servers keep an unsecured endpoint for GetEndpoints only, as OPC UA prescribes.
    registerServerMethod: RegisterServerMethod.HIDDEN,
    // Killed test workers leave sessions behind until they time out.
    serverCapabilities: { maxSessions: 100 },
  });
  await server.initialize();
  const addressSpace = server.engine.addressSpace;
  if (!addressSpace) throw new Error('no address space');
  const diIndex = addressSpace.getNamespaceIndex(DI_NS);
  const deviceSet = addressSpace.rootFolder.objects.getFolderElementByName('DeviceSet', diIndex) as UAObject;
  if (!deviceSet) throw new Error('DeviceSet missing from the DI nodeset');
  const own = addressSpace.getOwnNamespace();
  const imm2mes: Namespace = addressSpace.registerNamespace(IMM2MES_NS);
  const general: Namespace = addressSpace.registerNamespace(GENERAL_TYPES_NS);
  const machines = new Map<string, TestMachine>();

  function addMachine(
    name: string,
    init: { jobStatus?: number; machineMode?: number; without?: string[] } = {},
  ): TestMachine {
    const without = new Set(init.without ?? []);
    let jobStatusNode: UAVariable | undefined;
    let modeNode: UAVariable | undefined;
    const machine: TestMachine = {
      name,
      jobStatus: init.jobStatus ?? 8,
      machineMode: init.machineMode ?? 1,
      calls: { StartJob: 0, InterruptJob: 0, FinishJob: 0 },
      behaviour: defaultBehaviour(),
      setJobStatus(value) {
        machine.jobStatus = value;
        jobStatusNode?.setValueFromSource(new Variant({ dataType: DataType.Int32, value }));
      },
      setMachineMode(value) {
        machine.machineMode = value;
        modeNode?.setValueFromSource(new Variant({ dataType: DataType.Int32, value }));
      },
    };
    const device = own.addObject({ browseName: name, componentOf: deviceSet });
    const machineStatus = imm2mes.addObject({ browseName: 'MachineStatus', componentOf: device });
    if (!without.has('MachineMode')) {
      modeNode = general.addVariable({
        browseName: 'MachineMode',
        propertyOf: machineStatus,
        dataType: 'Int32',
        value: { dataType: DataType.Int32, value: machine.machineMode },
      });
      modeNodes.set(name, modeNode.nodeId.toString());
    }
    const jobs = imm2mes.addObject({ browseName: 'Jobs', componentOf: device });
    const active = general.addObject({ browseName: 'ActiveJobValues', componentOf: jobs });
    if (!without.has('JobStatus')) {
      jobStatusNode = general.addVariable({
        browseName: 'JobStatus',
        propertyOf: active,
        dataType: 'Int32',
        value: { dataType: DataType.Int32, value: machine.jobStatus },
      });
    }
    for (const method of ['StartJob', 'InterruptJob', 'FinishJob'] as const) {
      if (without.has(method)) continue;
      const node = general.addMethod(active, { browseName: method, inputArguments: [], outputArguments: [] });
      // node-opcua tells the promise form from the callback form by the number of parameters.
      node.bindMethod(async (_inputs: Variant[], _context: unknown) => {
        machine.calls[method]++;
        const statusCode = await machine.behaviour[method](machine);
        return { statusCode };
      });
    }
    machines.set(name, machine);
    return machine;
  }

  let sessionsCreated = 0;
  server.on('create_session', () => {
    sessionsCreated++;
  });
  server.on('session_closed', (session) => {
    const id = session.nodeId.toString();
    for (const [item, info] of items) if (info.sessionId === id) items.delete(item);
  });
  const modeNodes = new Map<string, string>();
  await server.start();
  const port = server.endpoints[0]?.port ?? 0;
  return {
    url: `opc.tcp://127.0.0.1:${port}/UA/IMM`,
    port,
    machines,
    addMachine,
    modeWatchers(name) {
      const nodeId = modeNodes.get(name);
      // A closed (1) or terminated (6) subscription holds its items no longer.
      const live = [...items.values()].filter(
        (i) => i.nodeId === nodeId && i.subscription.state !== 1 && i.subscription.state !== 6,
      );
      return [...new Set(live.map((i) => i.sessionId))];
    },
    sessionsCreated: () => sessionsCreated,
    currentSessions: () => server.currentSessionCount,
    async stop() {
      await server.shutdown(0);
      await serverCertificateManager.dispose();
      rmSync(pkiRoot, { recursive: true, force: true });
    },
  };
}
