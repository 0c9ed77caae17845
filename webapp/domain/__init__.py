"""Pure dealership logic with no Flask: normalisation, field comparison, badge bands."""
