-- CreateTable
CREATE TABLE "LedgerIdentity" (
    "singleton" INTEGER NOT NULL DEFAULT 1,
    "id" UUID NOT NULL,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "LedgerIdentity_pkey" PRIMARY KEY ("singleton")
);
