import { defineContractSuite } from './contract.ts';

defineContractSuite('pgboss');
