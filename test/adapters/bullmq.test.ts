import { defineContractSuite } from './contract.ts';

defineContractSuite('bullmq');
