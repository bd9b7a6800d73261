import {
  AttributeIds,
  BrowseDirection,
  type ClientSession,
  NodeClass,
  type NodeId,
  ReferenceTypeIds,
  StatusCodes,
} from 'node-opcua-client';
import { EndpointRejectedError } from './driver';

/** Namespaces of the companion specifications, found by URI (their index differs per server). */
export const NAMESPACES = {
  di: 'http://opcfoundation.org/UA/DI/',
  imm2mes: 'http://opcfoundation.org/UA/PlasticsRubber/IMM2MES/',
  generalTypes: 'http://opcfoundation.org/UA/PlasticsRubber/GeneralTypes/',
} as const;

/** `JobStatus` (JobStatusEnumeration of OPC 40077's general types), the values we act on. */
export const JobStatus = {
  START_UP_ACTIVE: 5,
  JOB_IN_PRODUCTION: 6,
  JOB_INTERRUPTED: 7,
  JOB_FINISHED: 8,
} as const;

/** `MachineMode` (MachineModeEnumeration): OTHER 0, AUTOMATIC 1, SEMI_AUTOMATIC 2, MANUAL 3, SETUP 4, SLEEP 5. */
export const MACHINE_MODES = ['OTHER', 'AUTOMATIC', 'SEMI_AUTOMATIC', 'MANUAL', 'SETUP', 'SLEEP'] as const;

export type JobMethod = 'StartJob' | 'InterruptJob' | 'FinishJob';

/** The nodes of one machine the driver and the monitor use. */
export interface MachineNodes {
  jobStatus: NodeId;
  machineMode: NodeId;
  /** The object the job methods belong to (the Call's objectId). */
  activeJobValues: NodeId;
  methods: Record<JobMethod, NodeId>;
}

/**
 * The server lacks a node or namespace the mapping needs: a configuration problem of the machine
 * or its endpoint, so the command is INTERNALFAILED at once (not retried) with the node named.
 */
export class MachineNodeMissingError extends EndpointRejectedError {
  override name = 'MachineNodeMissingError';
}

/** DI's own folder under DeviceSet; not a machine. */
const DI_DEVICE_FEATURES = 'DeviceFeatures';

async function namespaceIndexes(session: ClientSession): Promise<Record<keyof typeof NAMESPACES, number>> {
  const array = await session.readNamespaceArray();
  const indexOf = (uri: string) => {
    const index = array.indexOf(uri);
    if (index < 0) throw new MachineNodeMissingError(`the server has no namespace ${uri}`);
    return index;
  };
  return {
    di: indexOf(NAMESPACES.di),
    imm2mes: indexOf(NAMESPACES.imm2mes),
    generalTypes: indexOf(NAMESPACES.generalTypes),
  };
}

interface Step {
  name: string;
  namespaceIndex: number;
  /** HasProperty for properties; any hierarchical reference for components. */
  property?: boolean;
}

function browsePath(startingNode: NodeId | string, steps: Step[]) {
  return {
    startingNode,
    relativePath: {
      elements: steps.map((step) => ({
        referenceTypeId: step.property ? ReferenceTypeIds.HasProperty : ReferenceTypeIds.HierarchicalReferences,
        isInverse: false,
        includeSubtypes: true,
        targetName: { namespaceIndex: step.namespaceIndex, name: step.name },
      })),
    },
  };
}

/** The machine object: the one named `device` under DeviceSet, or the only machine object there. */
async function findDevice(session: ClientSession, diIndex: number, device: string | undefined): Promise<NodeId> {
  const [deviceSet] = await session.translateBrowsePath([
    browsePath('i=85', [{ name: 'DeviceSet', namespaceIndex: diIndex }]),
  ]);
  const deviceSetId = deviceSet?.statusCode.isGood() ? deviceSet.targets?.[0]?.targetId : undefined;
  if (!deviceSetId) throw new MachineNodeMissingError('node Objects/DeviceSet not found on the server');
  const browsed = await session.browse({
    nodeId: deviceSetId,
    referenceTypeId: ReferenceTypeIds.HierarchicalReferences,
    includeSubtypes: true,
    browseDirection: BrowseDirection.Forward,
    nodeClassMask: NodeClass.Object,
    resultMask: 0x3f,
  });
  const machines = (browsed.references ?? []).filter(
    (ref) => !(ref.browseName.name === DI_DEVICE_FEATURES && ref.browseName.namespaceIndex === diIndex),
  );
  if (device !== undefined) {
    const found = machines.find((ref) => ref.browseName.name === device);
    if (!found) throw new MachineNodeMissingError(`node Objects/DeviceSet/${device} not found on the server`);
    return found.nodeId;
  }
  const [only, ...more] = machines;
  if (!only) throw new MachineNodeMissingError('Objects/DeviceSet holds no machine object');
  if (more.length > 0) {
    const names = machines.map((ref) => ref.browseName.name).join(', ');
    throw new MachineNodeMissingError(`Objects/DeviceSet holds several machines (${names}); name one with ?device=`);
  }
  return only.nodeId;
}

/**
 * Finds the machine's nodes by browse path and namespace URI (TranslateBrowsePathsToNodeIds),
 * never by numeric node id, which differs per server.
 */
export async function findMachineNodes(session: ClientSession, device: string | undefined): Promise<MachineNodes> {
  const ns = await namespaceIndexes(session);
  const deviceId = await findDevice(session, ns.di, device);
  const machineStatus: Step = { name: 'MachineStatus', namespaceIndex: ns.imm2mes };
  const jobs: Step = { name: 'Jobs', namespaceIndex: ns.imm2mes };
  const active: Step = { name: 'ActiveJobValues', namespaceIndex: ns.generalTypes };
  const child = (name: string, property = false): Step => ({ name, namespaceIndex: ns.generalTypes, property });
  const wanted: { label: string; steps: Step[] }[] = [
    { label: 'MachineStatus/MachineMode', steps: [machineStatus, child('MachineMode', true)] },
    { label: 'Jobs/ActiveJobValues', steps: [jobs, active] },
    { label: 'Jobs/ActiveJobValues/JobStatus', steps: [jobs, active, child('JobStatus', true)] },
    { label: 'Jobs/ActiveJobValues/StartJob', steps: [jobs, active, child('StartJob')] },
    { label: 'Jobs/ActiveJobValues/InterruptJob', steps: [jobs, active, child('InterruptJob')] },
    { label: 'Jobs/ActiveJobValues/FinishJob', steps: [jobs, active, child('FinishJob')] },
  ];
  const results = await session.translateBrowsePath(wanted.map((w) => browsePath(deviceId, w.steps)));
  const ids = results.map((result, i) => {
    const target = result.statusCode.isGood() ? result.targets?.[0]?.targetId : undefined;
    if (!target) {
      const where = device === undefined ? 'the machine object' : `Objects/DeviceSet/${device}`;
      throw new MachineNodeMissingError(`node ${wanted[i]?.label} not found under ${where}`);
    }
    return target as unknown as NodeId;
  });
  const [machineMode, activeJobValues, jobStatus, startJob, interruptJob, finishJob] = ids as [
    NodeId,
    NodeId,
    NodeId,
    NodeId,
    NodeId,
    NodeId,
  ];
  return {
    machineMode,
    activeJobValues,
    jobStatus,
    methods: { StartJob: startJob, InterruptJob: interruptJob, FinishJob: finishJob },
  };
}

/** Reads an Int32-carried enumeration value; a Bad read or another type is a missing node. */
export async function readEnumeration(session: ClientSession, nodeId: NodeId, label: string): Promise<number> {
  const dataValue = await session.read({ nodeId, attributeId: AttributeIds.Value });
  if (dataValue.statusCode !== StatusCodes.Good && !dataValue.statusCode.isGood())
    throw new MachineNodeMissingError(`${label} could not be read: ${dataValue.statusCode.name}`);
  const value = dataValue.value?.value;
  if (typeof value !== 'number') throw new MachineNodeMissingError(`${label} is not an enumeration value`);
  return value;
}
