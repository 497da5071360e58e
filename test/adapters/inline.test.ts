import { defineContractSuite } from './contract.ts';

defineContractSuite('inline');
